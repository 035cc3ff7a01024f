// DecodedAudio: what the decoder hands on (interleaved float PCM + format facts).

public struct DecodedAudio: Sendable {
    /// Interleaved frames: samples[frame * channels + channel].
    public var samples: [Float]
    public var sampleRate: Int
    public var channels: Int
    /// Container/codec as libsndfile names it, e.g. "WAV/PCM_16", "OGG/OPUS".
    public var format: String

    public var frames: Int { channels == 0 ? 0 : samples.count / channels }
    public var durationSeconds: Double { sampleRate == 0 ? 0 : Double(frames) / Double(sampleRate) }

    public init(samples: [Float], sampleRate: Int, channels: Int, format: String) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.channels = channels
        self.format = format
    }

    /// Mean over channels.
    public func monoSamples() -> [Float] {
        if channels == 1 { return samples }
        var mono = [Float](repeating: 0, count: frames)
        let scale = 1 / Float(channels)
        samples.withUnsafeBufferPointer { src in
            for f in 0..<frames {
                var s: Float = 0
                for c in 0..<channels { s += src[f * channels + c] }
                mono[f] = s * scale
            }
        }
        return mono
    }
}
