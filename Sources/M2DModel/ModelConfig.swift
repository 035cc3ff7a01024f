// ModelConfig: the model directory's config.json (docs/DESIGN.md "Model directory"), typed and validated.
import Foundation
import M2DAudio

public struct ModelConfig: Codable, Sendable, Equatable {
    public var name: String
    public var embedDim: Int
    public var depth: Int
    public var numHeads: Int
    public var mlpRatio: Double
    /// [mel bins, chunk frames]; chunk frames (U) drive chunking (docs/NUMERICS.md §3.1).
    public var inputSize: [Int]
    public var patchSize: [Int]
    public var sampleRate: Int
    public var nFFT: Int
    public var winLength: Int
    public var hopLength: Int
    public var nMels: Int
    public var fMin: Double
    public var fMax: Double
    public var normStats: [Float]
    public var flatFeatures: Bool
    public var provenance: JSONValue?

    enum CodingKeys: String, CodingKey {
        case name, depth, provenance
        case embedDim = "embed_dim", numHeads = "num_heads", mlpRatio = "mlp_ratio"
        case inputSize = "input_size", patchSize = "patch_size", sampleRate = "sample_rate"
        case nFFT = "n_fft", winLength = "win_length", hopLength = "hop_length", nMels = "n_mels"
        case fMin = "f_min", fMax = "f_max", normStats = "norm_stats", flatFeatures = "flat_features"
    }

    public init(
        name: String, embedDim: Int, depth: Int, numHeads: Int, mlpRatio: Double = 4,
        inputSize: [Int] = [80, 608], patchSize: [Int] = [16, 16], frontEnd: FrontEndConfig = .m2d16k,
        normStats: [Float] = [-7.1, 4.2], flatFeatures: Bool = false, provenance: JSONValue? = nil
    ) {
        self.name = name
        self.embedDim = embedDim
        self.depth = depth
        self.numHeads = numHeads
        self.mlpRatio = mlpRatio
        self.inputSize = inputSize
        self.patchSize = patchSize
        self.sampleRate = frontEnd.sampleRate
        self.nFFT = frontEnd.nFFT
        self.winLength = frontEnd.winLength
        self.hopLength = frontEnd.hopLength
        self.nMels = frontEnd.nMels
        self.fMin = frontEnd.fMin
        self.fMax = frontEnd.fMax
        self.normStats = normStats
        self.flatFeatures = flatFeatures
        self.provenance = provenance
    }

    public var frontEnd: FrontEndConfig {
        FrontEndConfig(
            sampleRate: sampleRate, nFFT: nFFT, winLength: winLength, hopLength: hopLength,
            nMels: nMels, fMin: fMin, fMax: fMax)
    }

    public var headDim: Int { embedDim / numHeads }
    public var mlpHidden: Int { Int((Double(embedDim) * mlpRatio).rounded()) }
    public var patchHeight: Int { patchSize[0] }
    public var patchWidth: Int { patchSize[1] }
    /// Frequency patches F (80/16 = 5).
    public var freqPatches: Int { inputSize[0] / patchSize[0] }
    /// Time patches of the position-embedding grid (608/16 = 38).
    public var gridTimePatches: Int { inputSize[1] / patchSize[1] }
    /// Frames per chunk U.
    public var chunkFrames: Int { inputSize[1] }
    /// Length of one embedding: D * F, or D for flat features.
    public var embeddingDim: Int { flatFeatures ? embedDim : embedDim * freqPatches }

    /// The largest values a config may hold (docs/DESIGN.md "Model directory"): far above every official
    /// model (ViT-Base: D 768, 12 blocks; 80x1001 inputs; n_fft 1024), low enough that sizes derived
    /// from them can be computed without overflow and nothing is allocated from a typo.
    public enum Limits {
        public static let embedDim = 16384, depth = 256, mlpHidden = 1 << 18, patchSide = 1024
        public static let chunkFrames = 1 << 16, nMels = 1024, nFFT = 1 << 14, sampleRate = 384_000
    }

    /// Refuses impossible or contradictory fields, naming them, before any size derived from them is used.
    public func validate() throws(ModelError) {
        func bad(_ reason: String) -> ModelError { .invalidConfig(reason) }
        func within(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws(ModelError) {
            guard range.contains(value) else {
                throw bad("\(name) is \(value); it must be \(range.lowerBound)...\(range.upperBound)")
            }
        }
        guard embedDim > 0, depth > 0, numHeads > 0 else {
            throw bad("embed_dim, depth and num_heads must be positive")
        }
        try within("embed_dim", embedDim, 1...Limits.embedDim)
        try within("depth", depth, 1...Limits.depth)
        guard embedDim % numHeads == 0 else {
            throw bad("embed_dim \(embedDim) is not divisible by num_heads \(numHeads)")
        }
        // Checked before mlpHidden converts it to an Int (which traps on inf, NaN or overflow).
        guard mlpRatio.isFinite, mlpRatio > 0 else { throw bad("mlp_ratio must be positive") }
        guard Double(embedDim) * mlpRatio >= 1, Double(embedDim) * mlpRatio <= Double(Limits.mlpHidden) else {
            throw bad(
                "mlp_ratio \(mlpRatio) makes an MLP of \(Double(embedDim) * mlpRatio) units; "
                    + "the limit is \(Limits.mlpHidden)"
            )
        }
        guard inputSize.count == 2, patchSize.count == 2, patchSize.allSatisfy({ $0 > 0 }) else {
            throw bad("input_size and patch_size need two positive entries")
        }
        try within("patch_size[0]", patchSize[0], 1...Limits.patchSide)
        try within("patch_size[1]", patchSize[1], 1...Limits.patchSide)
        try within("n_mels", nMels, 1...Limits.nMels)
        guard inputSize[0] == nMels else { throw bad("input_size[0] \(inputSize[0]) must equal n_mels \(nMels)") }
        guard nMels % patchSize[0] == 0 else {
            throw bad("n_mels \(nMels) is not a multiple of patch height \(patchSize[0])")
        }
        guard inputSize[1] >= patchSize[1] else { throw bad("input_size[1] \(inputSize[1]) is shorter than one patch") }
        try within("input_size[1]", inputSize[1], 1...Limits.chunkFrames)
        guard normStats.count == 2, normStats.allSatisfy(\.isFinite), normStats[1] > 0 else {
            throw bad("norm_stats must be [mean, std], both finite, std > 0 (got \(normStats))")
        }
        try within("sample_rate", sampleRate, 1000...Limits.sampleRate)
        try within("n_fft", nFFT, 2...Limits.nFFT)
        try within("hop_length", hopLength, 1...nFFT)
        guard winLength == nFFT, fMin.isFinite, fMax.isFinite, fMin >= 0, fMax > fMin, fMax <= Double(sampleRate) / 2
        else {
            throw bad("front-end parameters are inconsistent (need win_length == n_fft, 0 <= f_min < f_max <= sr/2)")
        }
    }
}

extension ModelConfig {
    /// Decodes config.json, naming the field of a number that is not an integer (Foundation's own
    /// message for `"depth": 2.5` is "not valid JSON").
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func integer(_ key: CodingKeys) throws -> Int {
            let x = try c.decode(Double.self, forKey: key)
            guard x == x.rounded(), abs(x) < 9e15 else {
                throw DecodingError.typeMismatch(
                    Int.self, .init(codingPath: [key], debugDescription: "\(x) is not an integer"))
            }
            return Int(x)
        }
        func integers(_ key: CodingKeys) throws -> [Int] {
            try c.decode([Double].self, forKey: key).map { x in
                guard x == x.rounded(), abs(x) < 9e15 else {
                    throw DecodingError.typeMismatch(
                        Int.self, .init(codingPath: [key], debugDescription: "\(x) is not an integer"))
                }
                return Int(x)
            }
        }
        name = try c.decode(String.self, forKey: .name)
        embedDim = try integer(.embedDim)
        depth = try integer(.depth)
        numHeads = try integer(.numHeads)
        mlpRatio = try c.decode(Double.self, forKey: .mlpRatio)
        inputSize = try integers(.inputSize)
        patchSize = try integers(.patchSize)
        sampleRate = try integer(.sampleRate)
        nFFT = try integer(.nFFT)
        winLength = try integer(.winLength)
        hopLength = try integer(.hopLength)
        nMels = try integer(.nMels)
        fMin = try c.decode(Double.self, forKey: .fMin)
        fMax = try c.decode(Double.self, forKey: .fMax)
        normStats = try c.decode([Float].self, forKey: .normStats)
        flatFeatures = try c.decode(Bool.self, forKey: .flatFeatures)
        provenance = try c.decodeIfPresent(JSONValue.self, forKey: .provenance)
    }
}

/// Free-form JSON (the config's `provenance`).
public indirect enum JSONValue: Codable, Sendable, Equatable {
    case string(String), number(Double), bool(Bool), array([JSONValue]), object([String: JSONValue]), null

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .string(s): try c.encode(s)
        case let .number(n): try c.encode(n)
        case let .bool(b): try c.encode(b)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }
}
