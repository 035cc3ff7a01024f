// EncoderWeights: every encoder tensor in one FloatBuffer, laid out by `ParameterLayout`, with the
// official timm/M2D key names (docs/DESIGN.md), loaded with strict shape verification.
import M2DCheckpoint
import M2DTensor

/// (name, shape) of each encoder parameter in canonical order; the one name table.
public struct ParameterLayout: Sendable {
    public struct Entry: Sendable { public let name: String; public let shape: Shape; public let offset: Int }
    public let entries: [Entry]
    public let count: Int
    private let index: [String: Int]

    public init(_ items: [(String, Shape)]) {
        var offset = 0
        var entries: [Entry] = []
        for (name, shape) in items {
            entries.append(Entry(name: name, shape: shape, offset: offset))
            offset += shape.count
        }
        self.entries = entries
        self.count = offset
        self.index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    public func entry(_ name: String) -> Entry {
        guard let i = index[name] else { preconditionFailure("no parameter named \(name)") }
        return entries[i]
    }

    /// The encoder of `config` (docs/NUMERICS.md §4.1, encoder rows).
    public static func encoder(_ c: ModelConfig, prefix: String = "") -> [(String, Shape)] {
        let D = c.embedDim, H = c.mlpHidden
        var items: [(String, Shape)] = [
            ("cls_token", [1, 1, D]),
            ("pos_embed", [1, 1 + c.freqPatches * c.gridTimePatches, D]),
            ("patch_embed.proj.weight", [D, 1, c.patchHeight, c.patchWidth]),
            ("patch_embed.proj.bias", [D]),
        ]
        for i in 0..<c.depth {
            items += blockItems("\(prefix)blocks.\(i)", D: D, hidden: H)
        }
        items += [("\(prefix)norm.weight", [D]), ("\(prefix)norm.bias", [D])]
        return items
    }

    public static func blockItems(_ p: String, D: Int, hidden H: Int) -> [(String, Shape)] {
        [
            ("\(p).norm1.weight", [D]), ("\(p).norm1.bias", [D]),
            ("\(p).attn.qkv.weight", [3 * D, D]), ("\(p).attn.qkv.bias", [3 * D]),
            ("\(p).attn.proj.weight", [D, D]), ("\(p).attn.proj.bias", [D]),
            ("\(p).norm2.weight", [D]), ("\(p).norm2.bias", [D]),
            ("\(p).mlp.fc1.weight", [H, D]), ("\(p).mlp.fc1.bias", [H]),
            ("\(p).mlp.fc2.weight", [D, H]), ("\(p).mlp.fc2.bias", [D]),
        ]
    }
}

public final class EncoderWeights: @unchecked Sendable {
    // SAFETY: written during load, and its owner bookkeeping when an encoder is made (on the thread
    // that makes it, before any forward); read-only while encoders use it.
    public let config: ModelConfig
    public let layout: ParameterLayout
    public let storage: FloatBuffer
    public private(set) var blocks: [BlockParameters] = []
    /// The engine that took the Linear layers over (`GEMMEngine.ownsWeights`): their originals are
    /// released once reordered, so no other encoder may read these weights.
    public private(set) var linearOwner: ObjectIdentifier?
    private var encoders = 0

    /// Called by each `ViTEncoder` made on these weights; stops an owning engine from taking
    /// weights another encoder reads, and any encoder from reading weights an owning engine took.
    func register(engine: GEMMEngine) {
        if let linearOwner {
            precondition(
                linearOwner == ObjectIdentifier(engine),
                "these weights' Linear layers were released to another oneDNN engine")
        } else if engine.ownsWeights {
            precondition(encoders == 0, "an engine with ownsWeights must be the first and only encoder of its weights")
            linearOwner = ObjectIdentifier(engine)
        }
        encoders += 1
    }

    /// Hands the Linear layers to an owning engine before any encoder exists (streamed loading).
    private func handLinears(to engine: GEMMEngine) {
        precondition(encoders == 0 && linearOwner == nil, "weights are handed to an engine before any encoder is made")
        linearOwner = ObjectIdentifier(engine)
    }

    /// Zero-filled weights for `config` (fill them, then call `finalize`). The storage is zero pages
    /// that become resident only when written.
    public init(config: ModelConfig) {
        self.config = config
        layout = ParameterLayout(ParameterLayout.encoder(config))
        storage = FloatBuffer(zeroPages: layout.count)
        finalize()
    }

    /// Loads and verifies every encoder tensor from `file`; extra keys are ignored. With an engine
    /// that owns its weights (oneDNN inference), each block Linear weight is handed over as soon as
    /// it is read, so only one original is resident at a time: peak memory is the engine's copies
    /// (bf16: half the F32 size), not the F32 weights.
    public convenience init(config: ModelConfig, file: SafeTensorsFile, engine: GEMMEngine? = nil) throws(ModelError) {
        // Every tensor is in the file with its shape before the storage is mapped: the file backs the size.
        for (name, shape) in ParameterLayout.encoder(config) {
            guard let actual = file.shape(of: name) else { throw .checkpoint(.missingKey(key: name, expected: shape)) }
            guard actual == shape else {
                throw .checkpoint(.shapeMismatch(key: name, expected: shape, actual: actual))
            }
        }
        self.init(config: config)
        let owner = engine.flatMap { $0.ownsWeights ? $0 : nil }
        if let owner { handLinears(to: owner) }
        // The layout oneDNN prefers for a full batch of 16 chunks: preparing for one chunk's rows
        // made batch-8 clips 8% slower.
        let batchRows = 16 * (1 + config.freqPatches * config.gridTimePatches)
        // The Linear weights the encoder multiplies with (the ones oneDNN keeps its own copies of).
        let linearSuffixes = [".attn.qkv.weight", ".attn.proj.weight", ".mlp.fc1.weight", ".mlp.fc2.weight"]
        let linears = Set(
            layout.entries.filter { e in e.name.hasPrefix("blocks.") && linearSuffixes.contains { e.name.hasSuffix($0) }
            }
            .map(\.name))
        for entry in layout.entries {
            try ModelError.mapping {
                try file.read(entry.name, expecting: entry.shape, into: storage.pointer + entry.offset)
            }
            if let owner, linears.contains(entry.name) {
                owner.prepareLinear(
                    weight: storage.pointer + entry.offset, C: entry.shape[1], OC: entry.shape[0], rows: batchRows)
                if let failure = owner.takeFailure() { throw .invalidConfig("loading \(entry.name): \(failure)") }
            }
        }
    }

    func finalize() {
        blocks = (0..<config.depth).map {
            BlockParameters(
                base: storage.pointer + layout.entry("blocks.\($0).norm1.weight").offset, D: config.embedDim,
                hidden: config.mlpHidden)
        }
    }

    public func tensor(_ name: String) -> Tensor {
        let e = layout.entry(name)
        return storage.view(offset: e.offset, shape: e.shape)
    }

    public var clsToken: Tensor { tensor("cls_token") }
    public var posEmbed: Tensor { tensor("pos_embed") }
    public var patchWeight: Tensor { tensor("patch_embed.proj.weight") }
    public var patchBias: Tensor { tensor("patch_embed.proj.bias") }
    public var normWeight: Tensor { tensor("norm.weight") }
    public var normBias: Tensor { tensor("norm.bias") }
}
