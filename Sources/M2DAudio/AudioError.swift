// Typed errors of decoding and preparing audio. The server maps each to an HTTP status in one table.

public enum AudioError: Error, Equatable, CustomStringConvertible {
    /// libsndfile could not recognise or parse the data.
    case undecodable(reason: String)
    /// The header promised more audio than the data holds.
    case truncated(expectedFrames: Int, decodedFrames: Int)
    /// Zero samples.
    case empty
    /// Longer than the caller's limit (checked from the header, before decoding).
    case tooLong(seconds: Double, limitSeconds: Double)
    case tooManyChannels(channels: Int, limit: Int)
    case nonFiniteSamples
    case resampleFailed(reason: String)

    public var description: String {
        switch self {
        case let .undecodable(reason):
            "audio could not be decoded (\(reason)); accepted formats: WAV, FLAC, OGG Vorbis, Opus, MP3, AIFF"
        case let .truncated(expected, decoded):
            "audio is truncated: header promises \(expected) frames, data holds \(decoded)"
        case .empty: "audio is empty (0 samples)"
        case let .tooLong(seconds, limit):
            "audio is \(String(format: "%.1f", seconds)) s long; limit is \(String(format: "%g", limit)) s"
        case let .tooManyChannels(channels, limit): "audio has \(channels) channels; at most \(limit) are accepted"
        case .nonFiniteSamples: "audio contains NaN or infinite samples"
        case let .resampleFailed(reason): "resampling failed: \(reason)"
        }
    }
}
