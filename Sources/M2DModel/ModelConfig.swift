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

    public func validate() throws(ModelError) {
        func bad(_ reason: String) -> ModelError { .invalidConfig(reason) }
        guard embedDim > 0, depth > 0, numHeads > 0 else {
            throw bad("embed_dim, depth and num_heads must be positive")
        }
        guard embedDim % numHeads == 0 else {
            throw bad("embed_dim \(embedDim) is not divisible by num_heads \(numHeads)")
        }
        guard inputSize.count == 2, patchSize.count == 2, patchSize.allSatisfy({ $0 > 0 }) else {
            throw bad("input_size and patch_size need two positive entries")
        }
        guard inputSize[0] == nMels else { throw bad("input_size[0] \(inputSize[0]) must equal n_mels \(nMels)") }
        guard nMels % patchSize[0] == 0 else {
            throw bad("n_mels \(nMels) is not a multiple of patch height \(patchSize[0])")
        }
        guard inputSize[1] >= patchSize[1] else { throw bad("input_size[1] \(inputSize[1]) is shorter than one patch") }
        guard normStats.count == 2, normStats[1] > 0 else { throw bad("norm_stats must be [mean, std] with std > 0") }
        guard nFFT >= 2, winLength == nFFT, hopLength > 0, sampleRate > 0, fMax > fMin, fMax <= Double(sampleRate) / 2
        else {
            throw bad("front-end parameters are inconsistent (need win_length == n_fft, f_min < f_max <= sr/2)")
        }
        guard mlpHidden > 0 else { throw bad("mlp_ratio must be positive") }
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
