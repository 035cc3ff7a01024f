// The text side of an official M2D-CLAP checkpoint, as `m2d-train import` writes it: which text encoder the
// family has (the folder name's extras, as the official `parse_clap_type`), where its weights and vocabulary
// come from, and how it pools.
import Foundation
import M2DCheckpoint

extension TextImport {
    /// The text encoder an official folder name says its checkpoint pairs with: `...p16kpB[pTI]` BERT-base (2025),
    /// `pN` NV-Embed-v2, `pA` or no extra GTE-base (2024).
    public enum Family: String, Sendable { case gte = "A", bert = "B", nvEmbed = "N" }

    /// As the official `get_text_encoder`: the parent folder's name, else (when it has no '-') the file's stem;
    /// no extra after the sizes is GTE; an extra other than A, B or N is an error (the official code asserts).
    public static func family(ofCheckpointAt path: String) throws(TextModelError) -> Family {
        let url = URL(fileURLWithPath: path)
        for name in [url.deletingLastPathComponent().lastPathComponent, url.deletingPathExtension().lastPathComponent] {
            let parts = name.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count > 1 else { continue }
            let extra = parts[1].split(separator: "p", omittingEmptySubsequences: false).dropFirst(3)
            guard let first = extra.first else { return .gte }
            guard let family = Family(rawValue: String(first)) else {
                throw .unsupportedFamily(
                    "\(name): the text encoder '\(first)' after the sizes is none of A (GTE), B (BERT), N (NV-Embed)")
            }
            return family
        }
        return .gte
    }

    /// Whether the checkpoint carries its text encoder (the 2025 `...pTI` layout).
    public static func hasTextEncoder(_ checkpoint: PyTorchCheckpoint) -> Bool {
        stateDict(checkpoint).contains { $0.0.hasPrefix("text_encoder.text_encoder.") }
    }

    /// Writes `<out>/text/` for an official checkpoint: from the text encoder inside it (2025, with `vocabulary`)
    /// or from `folder` (a Hugging Face BERT folder, 2024). Nil when the checkpoint has no text side and no folder
    /// was given.
    public static func fromCheckpoint(
        _ checkpoint: PyTorchCheckpoint, path: String, vocabulary: String?, folder: String?, heads: Int?,
        out: String
    ) throws(TextModelError) -> TextConfig? {
        let family = try family(ofCheckpointAt: path)
        if family == .nvEmbed {
            // Its audio side imports as any other; only asking for its text side is an error.
            guard vocabulary != nil || folder != nil else { return nil }
            throw .unsupportedFamily(
                "\(path) pairs with NV-Embed-v2 (a 7B decoder, the 'pN' family), which m2d-serve does not run; "
                    + "drop --text-encoder/--text-vocab to import its audio side")
        }
        if folder != nil, hasTextEncoder(checkpoint) {
            // The official runtime loads the fine-tuned BERT inside the .pth over the Hub model: so do we.
            throw .invalidConfig(
                "\(path) carries its own fine-tuned text encoder; give its vocabulary with --text-vocab "
                    + "(e.g. the folder's vocab.txt) instead of --text-encoder, whose weights it would replace")
        }
        let projection = try projectionTensors(checkpoint)
        let pooling: TextConfig.Pooling = family == .bert ? .cls : .mean
        if let folder {
            var (hf, tensors) = try huggingFaceFolder(folder)
            tensors.merge(projection) { _, new in new }
            let config = try inferConfig(
                tensors, heads: heads ?? hf.numAttentionHeads, pooling: pooling, source: folder,
                epsilon: hf.layerNormEps ?? 1e-12)
            try write(config: config, tensors: tensors, vocabulary: vocabulary ?? folder + "/vocab.txt", to: out)
            return config
        }
        guard var tensors = try officialTensors(checkpoint) else {
            if vocabulary != nil {
                throw .checkpoint(
                    "\(path) has no text encoder (text_encoder.text_encoder.*): a 2024 M2D-CLAP's text encoder is "
                        + "a Hugging Face folder, given with --text-encoder DIR")
            }
            return nil
        }
        // Without a vocabulary the text side stays out (the audio side imports as before); the caller says how
        // to bring it in (`hasTextEncoder`).
        guard let vocabulary else { return nil }
        tensors.merge(projection) { _, new in new }
        let config = try inferConfig(tensors, heads: heads, pooling: .cls, source: path)
        try write(config: config, tensors: tensors, vocabulary: vocabulary, to: out)
        return config
    }
}
