// AudioPipeline: bytes -> decoded -> mono (mean) -> model rate (soxr). One call for server and CLI.

public struct PreparedAudio: Sendable {
    /// Mono samples at the model's rate.
    public var samples: [Float]
    public var sampleRate: Int
    public var inputSampleRate: Int
    public var inputChannels: Int
    public var format: String
    public var durationSeconds: Double { Double(samples.count) / Double(sampleRate) }
}

public enum AudioPipeline {
    public static func prepare(_ bytes: [UInt8], sampleRate: Int, maxSeconds: Double? = nil) throws(AudioError) -> PreparedAudio {
        let decoded = try AudioDecoder().decode(bytes, maxSeconds: maxSeconds)
        return try prepare(decoded, sampleRate: sampleRate)
    }

    public static func prepare(_ decoded: DecodedAudio, sampleRate: Int) throws(AudioError) -> PreparedAudio {
        let mono = decoded.monoSamples()
        let resampled = try Resampler.resample(mono, from: decoded.sampleRate, to: sampleRate)
        if resampled.isEmpty { throw .empty }
        return PreparedAudio(samples: resampled, sampleRate: sampleRate, inputSampleRate: decoded.sampleRate,
                             inputChannels: decoded.channels, format: decoded.format)
    }
}
