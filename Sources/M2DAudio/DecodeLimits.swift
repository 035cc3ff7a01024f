// DecodeLimits: what one input may cost before a sample is reserved. A header is a claim, not a
// fact: the rate and channel count are checked before decoding, the declared length is checked
// against the limits, and the decoder stops at the limits whatever the header said.

public struct DecodeLimits: Sendable, Equatable {
    /// Longest audio, seconds (at its own rate).
    public var maxSeconds: Double?
    /// Highest sample rate accepted; above it is 422 (a 1 MHz "audio" file is an attack, not audio).
    public var maxSampleRate = 384_000
    /// Most interleaved samples (frames x channels) decoded: bounds the decoding work of one input.
    public var maxDecodedSamples: Int?

    public init(maxSeconds: Double? = nil, maxSampleRate: Int = 384_000, maxDecodedSamples: Int? = nil) {
        self.maxSeconds = maxSeconds
        self.maxSampleRate = maxSampleRate
        self.maxDecodedSamples = maxDecodedSamples
    }

    /// The default work budget for `maxSeconds` of audio: eight channels at 48 kHz for the whole length.
    public static func defaultDecodedSamples(maxSeconds: Double) -> Int {
        Int(min(Double(Int.max / 2), (maxSeconds * 48_000 * 8).rounded(.up)))
    }
}
