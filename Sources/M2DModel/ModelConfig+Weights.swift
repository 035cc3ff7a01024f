// ModelConfig against its weights file: every size the config implies (block count, widths, MLP
// width, patch, positional-embedding length) is compared with the tensors the file holds before
// anything is allocated from it, so a damaged or hostile config.json is a message naming the field,
// never a trap or an allocation the file cannot back.
import M2DCheckpoint

extension ModelConfig {
    /// Throws `.invalidConfig` naming the field that disagrees with `file`.
    public func check(against file: SafeTensorsFile) throws(ModelError) {
        func bad(_ reason: String) -> ModelError { .invalidConfig("\(reason) (\(file.path))") }
        func dims(_ key: String) throws(ModelError) -> [Int] {
            guard let shape = file.shape(of: key) else {
                throw .checkpoint(.missingKey(key: key, expected: []))
            }
            return shape.dims
        }
        // Blocks: the file's blocks.N are 0..<depth, no more and no fewer.
        var blocks = Set<Int>()
        for key in file.keys where key.hasPrefix("blocks.") {
            if let n = Int(key.dropFirst(7).prefix { $0.isNumber }) { blocks.insert(n) }
        }
        guard blocks.count == depth, blocks.max() == depth - 1 else {
            let held = blocks.isEmpty ? "none" : "\(blocks.count) (blocks.\(blocks.min()!) ... blocks.\(blocks.max()!))"
            throw bad("config.json says depth \(depth); the weights hold \(held)")
        }
        let cls = try dims("cls_token")
        guard cls.count == 3, cls.last == embedDim else {
            throw bad("config.json says embed_dim \(embedDim); cls_token has shape \(cls)")
        }
        let fc1 = try dims("blocks.0.mlp.fc1.weight")
        guard fc1 == [mlpHidden, embedDim] else {
            throw bad(
                "config.json's mlp_ratio \(mlpRatio) makes \(mlpHidden) MLP units; blocks.0.mlp.fc1.weight is \(fc1)")
        }
        let patch = try dims("patch_embed.proj.weight")
        guard patch == [embedDim, 1, patchSize[0], patchSize[1]] else {
            throw bad("config.json says patch_size \(patchSize); patch_embed.proj.weight is \(patch)")
        }
        // validate() bounds both factors, so the product cannot overflow.
        let tokens = 1 + freqPatches * gridTimePatches
        let pos = try dims("pos_embed")
        guard pos == [1, tokens, embedDim] else {
            throw bad(
                "config.json's input_size \(inputSize) and patch_size \(patchSize) make \(tokens) positions; "
                    + "pos_embed is \(pos)")
        }
    }
}
