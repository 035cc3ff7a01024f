// m2d-train: model-making commands. `init` writes a randomly initialised model directory.
import ArgumentParser
import CProcess
import Foundation
import M2DCheckpoint
import M2DModel
import M2DText
import M2DTraining

@main
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "m2d-train",
        abstract: "Make M2D model directories.",
        subcommands: [
            PretrainCommand.self, ExportCommand.self, ProbeCommand.self, EvalCommand.self, AblateCommand.self,
            ImportCommand.self,
            InitCommand.self,
        ])

}

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a randomly initialised (untrained) M2D encoder as a model directory.",
        discussion:
            "The weights follow the official initialisation (xavier-uniform linears, fixed sin-cos positions). Useful "
                + "as a placeholder and as the random-init baseline of evaluations."
    )

    @Option(help: "Output model directory.") var out: String
    @Option(help: "Model name (config.json 'name').") var name: String = "m2d_vit-80x608p16x16-untrained"
    @Option(help: "Embedding width D (the embedding is D x 5).") var embedDim = 768
    @Option(help: "Transformer blocks.") var depth = 12
    @Option(help: "Attention heads.") var heads = 12
    @Option(help: "Frames per chunk (input_size[1]).") var chunkFrames = 608
    @Option(help: "Weight dtype: F32, F16 or BF16.") var dtype: String = "F32"
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(
        parsing: .unconditional,
        help: "Input normalization 'MEAN,STD' (use a trained model's to compare it with its random initialisation).")
    var normStats: String = "-7.1,4.2"

    func run() throws {
        guard let type = DType(rawValue: dtype.uppercased()) else {
            throw ValidationError("--dtype must be F32, F16 or BF16")
        }
        let stats = normStats.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard stats.count == 2, stats[1] > 0 else {
            throw ValidationError("--norm-stats must be 'MEAN,STD' with STD > 0, e.g. -7.1,4.2")
        }
        let provenance: JSONValue = .object([
            "trained": .bool(false),
            "note": .string(
                "UNTRAINED placeholder: random initialisation written by m2d-train init; its embeddings carry no "
                    + "learned meaning"
            ),
            "seed": .number(Double(seed)),
        ])
        var config = ModelConfig(
            name: name, embedDim: embedDim, depth: depth, numHeads: heads, inputSize: [80, chunkFrames],
            provenance: provenance)
        config.normStats = stats
        do { try config.validate() } catch { throw ValidationError("\(error)") }
        let weights = EncoderWeights.initialized(config: config, seed: seed)
        try ModelDirectory.write(weights, to: out, dtype: type)
        print("wrote \(out) (\(weights.layout.count) parameters, \(type.rawValue))")
    }
}

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert an official M2D PyTorch checkpoint (.pth) into a model directory, no Python needed.",
        discussion: """
            Reads the zip/pickle checkpoint with a restricted unpickler (nothing is executed), keeps the
            encoder (predictor, target encoder, optimizer state and args are dropped), and takes input
            and patch size from the checkpoint's directory name, e.g.
            m2d_vit_base-80x608p16x16-221006-mr7/checkpoint-300.pth (or from --config).

            A checkpoint fine-tuned with EVAR (the AudioSet ones, e.g.
            m2d_as_vit_base-80x1001p16x16-240213_AS-FT_enconly/weights_ep69it3124-0.47929.pth) also carries
            its task head; it is written to <out>/heads/<head-name>.safetensors, and /classify then tags
            audio with it as the official runtime does. Give AudioSet's class_labels_indices.csv with
            --labels: output i is the i-th label by mid, the official order.

            M2D-CLAP's text side goes to <out>/text/ (text embeddings, zero-shot /classify):
            - 2025 (folder suffix pBpTI): the BERT is inside the .pth; give bert-base-uncased's vocab.txt with
              --text-vocab. Without it only the audio side is imported, as before.
            - 2024 (no suffix, GTE-base): give the Hugging Face folder of the text encoder with --text-encoder
              (config.json, model.safetensors or pytorch_model.bin, vocab.txt).
            The official weights are under NTT's non-commercial evaluation license.
            """)

    @Argument(help: "The .pth checkpoint.") var checkpoint: String
    @Option(help: "Output model directory.") var out: String
    @Option(help: "Attention heads (default: embed_dim / 64, as every official model).") var heads: Int?
    @Option(help: "Weight dtype: F32, F16 or BF16.") var dtype: String = "F32"
    @Option(help: "Sizes in the official pattern when the folder is not named that way, e.g. 80x1001p16x16p32k.")
    var config: String?
    @Option(help: "Class names of the checkpoint's head: AudioSet's class_labels_indices.csv (index,mid,display_name).")
    var labels: String?
    @Option(help: "Name of the head written to <out>/heads/.") var headName: String = "audioset"
    @Option(help: "bert-base-uncased's vocab.txt, for a 2025 M2D-CLAP whose BERT is inside the .pth (pBpTI).")
    var textVocab: String?
    @Option(help: "The Hugging Face folder of a 2024 M2D-CLAP's text encoder (GTE-base).") var textEncoder: String?
    @Option(help: "Attention heads of the text encoder (default: its config.json's, else width / 64).")
    var textHeads: Int?

    func run() throws {
        guard let type = DType(rawValue: dtype.uppercased()) else {
            throw ValidationError("--dtype must be F32, F16 or BF16")
        }
        let names: [String]?
        do { names = try labels.map { try ClassLabels.officialOrder(csv: $0) } } catch {
            throw ValidationError("\(error)")
        }
        guard !headName.isEmpty, !headName.contains("/"), !headName.hasPrefix(".") else {
            throw ValidationError("--head-name must be a plain file name, got '\(headName)'")
        }
        let loaded: LoadedModel
        let head: ProbeHead?
        let projection: AudioProjection?
        let file: PyTorchCheckpoint
        do {
            // One parse of the file for the encoder, the head, the projection and the text side.
            do { file = try PyTorchCheckpoint(path: checkpoint) } catch { throw ModelError.checkpoint(error) }
            loaded = try OfficialCheckpoint.load(
                file, path: checkpoint, options: .init(heads: heads, sizesName: config))
            head = try OfficialHead.load(
                file, path: checkpoint, name: headName, labels: names, config: loaded.config)
            projection = try AudioProjection.official(file, dim: loaded.config.embedDim)
        } catch {
            guard FileManager.default.fileExists(atPath: checkpoint) else { throw ValidationError("\(error)") }
            FileHandle.standardError.write(Data("m2d-train import: cannot import \(checkpoint): \(error)\n".utf8))
            throw ExitCode(1)
        }
        if head == nil, labels != nil {
            throw ValidationError(
                "\(checkpoint) has no task head (module.head.mlp.mlp.0.weight), so --labels has nothing to name; "
                    + "drop --labels to import the encoder only")
        }
        try ModelDirectory.write(loaded.weights, to: out, dtype: type)
        let c = loaded.config
        let kept = loaded.ignoredKeys.filter {
            (projection != nil && $0.contains("audio_proj."))
                || (head != nil && $0.hasPrefix("module.head.") && !$0.hasSuffix("num_batches_tracked"))
        }.count
        print(
            "wrote \(out): \(c.name), D=\(c.embedDim) depth=\(c.depth) heads=\(c.numHeads) input \(c.inputSize) patch "
                + "\(c.patchSize) \(c.sampleRate) Hz, norm_stats \(c.normStats); dropped "
                + "\(loaded.ignoredKeys.count - kept) tensors that are neither encoder, head nor audio projection"
        )
        if let projection {
            try projection.write(toModel: out)
            print(
                "wrote \(out)/\(AudioProjection.fileName): the M2D-CLAP audio projection (\(projection.kind.rawValue), "
                    + "\(projection.dim)-d); /embed?projection=clap serves it")
        } else {
            // A projection left from an earlier import into this folder would be served with this encoder.
            try? FileManager.default.removeItem(atPath: out + "/" + AudioProjection.fileName)
        }
        try importText(file, out: out)
        if let head {
            let path = out + "/heads/\(headName).safetensors"
            try head.write(to: path)
            print(
                "wrote \(path): \(head.classes) classes on the \(head.input.rawValue) (\(head.dim)-d), sigmoid by "
                    + "default")
            if names == nil {
                FileHandle.standardError.write(Data(
                    ("warning: no --labels; the head's classes are named by index (0...\(head.classes - 1)). "
                        + "Give AudioSet's class_labels_indices.csv to name them.\n").utf8))
            }
        }
    }
}

extension ImportCommand {
    /// The text side into <out>/text/, or a note on how to bring it in; a text part left from an earlier import
    /// into this folder is removed when this checkpoint brings none.
    func importText(_ file: PyTorchCheckpoint, out: String) throws {
        let config: TextConfig?
        do {
            config = try TextImport.fromCheckpoint(
                file, path: checkpoint, vocabulary: textVocab, folder: textEncoder, heads: textHeads, out: out)
        } catch {
            // The audio side is new: a text part left from an earlier import would not match it.
            try? FileManager.default.removeItem(atPath: out + "/" + TextModel.folder)
            FileHandle.standardError.write(Data("m2d-train import: the text side: \(error)\n".utf8))
            throw ExitCode(1)
        }
        guard let config else {
            try? FileManager.default.removeItem(atPath: out + "/" + TextModel.folder)
            if (try? TextImport.family(ofCheckpointAt: checkpoint)) == .nvEmbed {
                print("note: \(checkpoint) pairs with NV-Embed-v2 (a 7B decoder), which m2d-serve does not run: "
                    + "its audio side is imported, without a text side")
            } else if TextImport.hasTextEncoder(file) {
                print(
                    "note: \(checkpoint) carries a BERT text encoder; pass --text-vocab with bert-base-uncased's "
                        + "vocab.txt to import it (text embeddings, zero-shot /classify)")
            }
            return
        }
        print(
            "wrote \(out)/\(TextModel.folder)/: the text encoder (\(config.layers) layers, \(config.hidden) wide, "
                + "\(config.heads) heads, \(config.pooling.rawValue) pooling, \(config.outputDim)-d)")
    }
}
