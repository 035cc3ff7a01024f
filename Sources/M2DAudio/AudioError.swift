// Typed errors of decoding and preparing audio. The server maps each to an HTTP status in one table.

public enum AudioError: Error, Equatable, CustomStringConvertible {
    /// libsndfile could not recognise or parse the data.
    case undecodable(reason: String)
    /// The header promised more audio than the data holds.
    case truncated(expectedFrames: Int, decodedFrames: Int)
    /// Zero samples.
    case empty
    /// Longer than the caller's limit (checked from the header, before decoding, and while decoding).
    case tooLong(seconds: Double, limitSeconds: Double)
    case tooManyChannels(channels: Int, limit: Int)
    /// A sample rate no audio file has (checked from the header).
    case sampleRateTooHigh(rate: Int, limit: Int)
    /// More interleaved samples than the decoding budget (rate x channels x seconds).
    case tooManySamples(samples: Int, limit: Int)
    case nonFiniteSamples
    case resampleFailed(reason: String)

    public var description: String {
        switch self {
        case let .undecodable(reason):
            "audio could not be decoded (\(reason)); accepted formats: \(AudioFormat.summary)"
        case let .truncated(expected, decoded):
            "audio is truncated: header promises \(expected) frames, data holds \(decoded)"
        case .empty: "audio is empty (0 samples)"
        case let .tooLong(seconds, limit):
            "audio is \(String(format: "%.1f", seconds)) s long; limit is \(String(format: "%g", limit)) s"
        case let .tooManyChannels(channels, limit): "audio has \(channels) channels; at most \(limit) are accepted"
        case let .sampleRateTooHigh(rate, limit):
            "audio claims a sample rate of \(rate) Hz; at most \(limit) Hz is accepted (resample it first)"
        case let .tooManySamples(samples, limit):
            "audio needs \(samples) decoded samples (rate x channels x seconds); the limit is \(limit): "
                + "downmix, resample or shorten it first"
        case .nonFiniteSamples: "audio contains NaN or infinite samples"
        case let .resampleFailed(reason): "resampling failed: \(reason)"
        }
    }
}
