// OfficialCheckpoint: loads an official M2D PyTorch checkpoint (.pth) as encoder weights, with
// the key handling of examples/portable_m2d.py get_backbone (docs/NUMERICS.md §4.2): take 'model' when
// present, keep and strip 'backbone.' keys when there are any, strip 'module.ar.runtime.backbone.',
// default norm_stats to [-7.1, 4.2], keep the encoder keys. Input size, patch size and sample rate
// come from the checkpoint's directory name (docs/NUMERICS.md §3.1), falling back to the file name; width
// and depth from the tensors; heads = width / 64 unless overridden.
import Foundation
import M2DAudio
import M2DCheckpoint
import M2DTensor

public enum OfficialCheckpoint {
    public struct Options: Sendable {
        /// Attention heads (default: embed_dim / 64, as every official model).
        public var heads: Int?
        /// A name in the official pattern (`m2d_vit_base-80x608p16x16p32k`, or just `80x608p16x16p32k`) to
        /// read the sizes from when the checkpoint's directory is not named that way.
        public var sizesName: String?
        public init(heads: Int? = nil, sizesName: String? = nil) {
            self.heads = heads
            self.sizesName = sizesName
        }
    }

    /// Sizes parsed from a name like `m2d_vit_base-80x608p16x16-221006-mr7` or `...-80x1001p16x16p32k`.
    public struct NameSizes: Equatable, Sendable {
        public var inputSize: [Int]
        public var patchSize: [Int]
        public var sampleRate: Int
        public init(inputSize: [Int], patchSize: [Int], sampleRate: Int) {
            self.inputSize = inputSize
            self.patchSize = patchSize
            self.sampleRate = sampleRate
        }
    }

    public static func parseSizes(_ name: String) -> NameSizes? {
        let fields = name.split(separator: "-")
        guard fields.count >= 2 else { return nil }
        let parts = fields[1].split(separator: "p")
        guard parts.count >= 2 else { return nil }
        func pair(_ s: Substring) -> [Int]? {
            let v = s.split(separator: "x").compactMap { Int($0) }
            return v.count == 2 && v.allSatisfy { $0 > 0 } ? v : nil
        }
        guard let input = pair(parts[0]), let patch = pair(parts[1]) else { return nil }
        var rate = 16000
        if parts.count >= 3 {
            switch parts[2] {
            case "16k": rate = 16000
            case "32k": rate = 32000
            default: break
            }
        }
        return NameSizes(inputSize: input, patchSize: patch, sampleRate: rate)
    }

    /// The encoder tensors after the official key handling, with the norm_stats they carry (if any).
    public static func encoderTensors(_ checkpoint: PyTorchCheckpoint) -> [String: TensorReference] {
        stateTensors(checkpoint).filter { isEncoderKey($0.key) }
    }

    /// Every tensor after the official key handling (`model`, `backbone.`, `module.ar.runtime.backbone.`).
    public static func stateTensors(_ checkpoint: PyTorchCheckpoint) -> [String: TensorReference] {
        var stateDict = checkpoint.root
        if let model = checkpoint.root["model"], model.dictItems != nil { stateDict = model }
        var tensors = PyTorchCheckpoint.tensors(of: stateDict)
        if tensors.contains(where: { $0.0.hasPrefix("backbone.") }) {
            tensors = tensors.filter { $0.0.hasPrefix("backbone.") }.map {
                (String($0.0.dropFirst("backbone.".count)), $0.1)
            }
        }
        let evar = "module.ar.runtime.backbone."
        tensors = tensors.map { ($0.0.hasPrefix(evar) ? String($0.0.dropFirst(evar.count)) : $0.0, $0.1) }
        var out: [String: TensorReference] = [:]
        for (k, v) in tensors { out[k] = v }
        return out
    }

    static func isEncoderKey(_ k: String) -> Bool {
        ["cls_token", "pos_embed", "norm_stats"].contains(k) || k.hasPrefix("patch_embed.proj.")
            || k.hasPrefix("blocks.") || k.hasPrefix("norm.")
    }

    public static func load(_ path: String, options: Options = Options()) throws(ModelError) -> LoadedModel {
        let checkpoint: PyTorchCheckpoint
        do { checkpoint = try PyTorchCheckpoint(path: path) } catch { throw .checkpoint(error) }
        return try load(checkpoint, path: path, options: options)
    }

    /// The encoder of an opened checkpoint (`path` names it: its folder gives the sizes).
    public static func load(
        _ checkpoint: PyTorchCheckpoint, path: String, options: Options = Options()
    ) throws(ModelError) -> LoadedModel {
        let tensors = encoderTensors(checkpoint)
        let url = URL(fileURLWithPath: path)
        let directoryName = url.deletingLastPathComponent().lastPathComponent
        let stem = url.deletingPathExtension().lastPathComponent
        if let given = options.sizesName {
            guard parseSizes(given) ?? parseSizes("m2d-" + given) != nil else {
                throw .invalidConfig(
                    "--config '\(given)' is not in the official pattern, e.g. 80x608p16x16 or 80x1001p16x16p32k")
            }
        }
        let named = options.sizesName.flatMap { parseSizes($0) ?? parseSizes("m2d-" + $0) }
        if let named, let folder = parseSizes(directoryName), folder != named {
            throw .invalidConfig(
                "--config '\(options.sizesName!)' contradicts the folder name '\(directoryName)'; drop --config (the "
                    + "official name says the sizes) or rename the folder")
        }
        guard let sizes = named ?? parseSizes(directoryName) ?? parseSizes(stem) else {
            throw .invalidConfig(
                "cannot read input and patch size from '\(directoryName)' or '\(stem)'; "
                    + "put the checkpoint in a directory named the official way, e.g. "
                    + "m2d_vit_base-80x608p16x16-221006-mr7/checkpoint-300.pth, or give the sizes with "
                    + "--config 80x608p16x16"
            )
        }
        guard let cls = tensors["cls_token"], cls.shape.count == 3 else {
            throw .checkpoint(.missingKey(key: "cls_token", expected: [1, 1, 768]))
        }
        let dim = cls.shape[2]
        var depth = 0
        while tensors["blocks.\(depth).attn.qkv.weight"] != nil { depth += 1 }
        guard depth > 0 else {
            throw .checkpoint(.missingKey(key: "blocks.0.attn.qkv.weight", expected: [3 * dim, dim]))
        }
        let hidden = tensors["blocks.0.mlp.fc1.weight"]?.shape.first ?? 4 * dim
        let heads = options.heads ?? max(1, dim / 64)
        let frontEnd: FrontEndConfig = sizes.sampleRate == 32000 ? .m2d32k : .m2d16k
        var config = ModelConfig(
            name: directoryName.isEmpty ? stem : directoryName, embedDim: dim, depth: depth, numHeads: heads,
            mlpRatio: Double(hidden) / Double(dim), inputSize: sizes.inputSize, patchSize: sizes.patchSize,
            frontEnd: frontEnd, provenance: .object(["source": .string(path), "format": .string("official .pth")]))
        if let stats = tensors["norm_stats"], stats.shape.reduce(1, *) == 2 {
            do { config.normStats = try checkpoint.array(stats, name: "norm_stats") } catch { throw .checkpoint(error) }
        }
        try config.validate()
        let weights = EncoderWeights(config: config)
        for entry in weights.layout.entries {
            guard let t = tensors[entry.name] else {
                throw .checkpoint(.missingKey(key: entry.name, expected: entry.shape))
            }
            guard Shape(t.shape) == entry.shape else {
                throw .checkpoint(.shapeMismatch(key: entry.name, expected: entry.shape, actual: Shape(t.shape)))
            }
            do { try checkpoint.read(t, name: entry.name, into: weights.storage.pointer + entry.offset) } catch {
                throw .checkpoint(error)
            }
        }
        let used = Set(weights.layout.entries.map(\.name) + ["norm_stats"])
        let all = PyTorchCheckpoint.tensors(of: checkpoint.root["model"] ?? checkpoint.root).map(\.0)
        return LoadedModel(
            directory: path, config: config, weights: weights, ignoredKeys: all.filter { !used.contains($0) })
    }
}

extension ModelDirectory {
    /// A model directory, or an official `.pth` checkpoint file.
    public static func loadAny(
        _ path: String, heads: Int? = nil, engine: GEMMEngine? = nil
    ) throws(ModelError) -> LoadedModel {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
            path.hasSuffix(".pth") || path.hasSuffix(".pt")
        {
            return try OfficialCheckpoint.load(path, options: .init(heads: heads))
        }
        return try load(path, engine: engine)
    }
}
