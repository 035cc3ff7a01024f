// EncoderEngine: the seam between "chunks of normalised log-mel" and "their tokens". The ViT on
// oneDNN or OpenBLAS (ViTEncoder) is one implementation; an int8 or a GPU engine is another, and
// server tests that only exercise routing run a stub behind it. An engine is used by one thread at
// a time (the inference worker that owns it).
import M2DTensor

/// One chunk of normalised log-mel: `base` points at (mel 0, first frame); rows are `rowStride`
/// floats apart; the chunk spans `timePatches * patchWidth` frames.
public struct EncoderChunk: @unchecked Sendable {
    // SAFETY: a read-only view whose owner outlives the encode call.
    public let base: UnsafePointer<Float>
    public let rowStride: Int
    public let timePatches: Int

    public init(base: UnsafePointer<Float>, rowStride: Int, timePatches: Int) {
        self.base = base
        self.rowStride = rowStride
        self.timePatches = timePatches
    }
}

/// The tokens of one encode call: chunk c's tokens (CLS first, then f-major patches) are rows
/// [rowStarts[c], rowStarts[c] + 1 + F*Tp_c) of `tokens` (rows, D). Valid until the next call.
public struct EncoderOutput {
    public let tokens: Tensor
    public let rowStarts: [Int]

    public init(tokens: Tensor, rowStarts: [Int]) {
        self.tokens = tokens
        self.rowStarts = rowStarts
    }
}

public enum EncoderError: Error, Equatable, CustomStringConvertible {
    /// The compute library failed (out of memory, a primitive it could not create).
    case backend(String)

    public var description: String {
        switch self {
        case let .backend(reason): "the encoder failed: \(reason)"
        }
    }
}

public protocol EncoderEngine: AnyObject, Sendable {
    var config: ModelConfig { get }
    /// What runs the products, e.g. "onednn 2.6.3 gemm:jit fp32".
    var summary: String { get }
    var precision: GEMMEngine.Precision { get }
    /// Bytes the compute library holds in its own copies of the weights.
    var engineWeightBytes: Int { get }
    /// Threads the encoder computes on.
    var computeThreads: Int { get }
    /// Makes room for `chunks` full-length chunks per call, so serving never grows a buffer.
    func reserve(chunks: Int)
    /// Encodes chunks of any lengths in one pass; attention stays within each chunk.
    func encode(_ chunks: [EncoderChunk]) throws(EncoderError) -> EncoderOutput
}

extension EncoderEngine {
    public var computeThreads: Int { BLAS.threads }
}

/// An engine computing from these weights (they identify its results, e.g. in embedding caches).
public protocol EncoderWeightsProvider {
    var weights: EncoderWeights { get }
}
