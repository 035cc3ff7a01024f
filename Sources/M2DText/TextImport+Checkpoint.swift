// The text side of an official M2D-CLAP checkpoint, as `m2d-train import` writes it: which text encoder the
// family has (the folder name's extras, as the official `parse_clap_type`), where its weights and vocabulary
// come from, and how it pools.
import Foundation
import M2DCheckpoint

extension TextImport {
    /// The text encoder an official folder name says its checkpoint pairs with: `...p16kpB[pTI]` BERT-base (2025),
    /// `pN` NV-Embed-v2, `pA` or no extra GTE-base (2024).
    public enum Family: String, Sendable { case gte = "A", bert = "B", nvEmbed = "N" }

    public static func family(ofCheckpointAt path: String) -> Family {
        let url = URL(fileURLWithPath: path)
        for name in [url.deletingLastPathComponent().lastPathComponent, url.deletingPathExtension().lastPathComponent] {
            let parts = name.split(separator: "-")
            guard parts.count > 1 else { continue }
            let params = parts[1].split(separator: "p", omittingEmptySubsequences: false)
            guard params.count >= 2, params[0].contains("x") else { continue }
            let extra = params.dropFirst(3)
            guard let first = extra.first else { return .gte }
            return Family(rawValue: String(first)) ?? .gte
        }
        return .gte
    }

    /// Whether the checkpoint carries its text encoder (the 2025 `...pTI` layout).
    public static func hasTextEncoder(_ checkpoint: PyTorchCheckpoint) -> Bool {
        var state = checkpoint.root
        if let model = checkpoint.root["model"], model.dictItems != nil { state = model }
        return PyTorchCheckpoint.tensors(of: state).contains { $0.0.hasPrefix("text_encoder.text_encoder.") }
    }

    /// Writes `<out>/text/` for an official checkpoint: from the text encoder inside it (2025, with `vocabulary`)
    /// or from `folder` (a Hugging Face BERT folder, 2024). Nil when the checkpoint has no text side and no folder
    /// was given.
    public static func fromCheckpoint(
        _ checkpoint: PyTorchCheckpoint, path: String, vocabulary: String?, folder: String?, heads: Int?,
        out: String
    ) throws(TextModelError) -> TextConfig? {
        let family = family(ofCheckpointAt: path)
        if family == .nvEmbed {
            throw .unsupportedFamily(
                "\(path) pairs with NV-Embed-v2 (a 7B decoder, the 'pN' family), which m2d-serve does not run; "
                    + "import it without --text-encoder/--text-vocab for its audio side")
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
