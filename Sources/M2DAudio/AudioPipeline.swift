// AudioPipeline: bytes -> decoded block by block -> mono (mean over channels) -> model rate (soxr,
// streamed). One call for the server, the CLI and the trainer. Only the model-rate mono signal is
// ever whole in memory: the input-rate and multi-channel samples live one block at a time.

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
    public static func prepare(
        _ bytes: [UInt8], sampleRate: Int, maxSeconds: Double? = nil
    ) throws(AudioError) -> PreparedAudio {
        try prepare(bytes, sampleRate: sampleRate, limits: DecodeLimits(maxSeconds: maxSeconds))
    }

    public static func prepare(
        _ bytes: [UInt8], sampleRate: Int, limits: DecodeLimits
    ) throws(AudioError) -> PreparedAudio {
        var mono = [Float]()
        var resampler: StreamingResampler?
        var monoBlock = [Float](repeating: 0, count: AudioDecoder.blockFrames)
        var started = false
        let header = try AudioDecoder().decodeBlocks(bytes, limits: limits) { block, header throws(AudioError) in
            let channels = header.channels, frames = block.count / channels
            if !started {
                started = true
                // Room for the declared length (checked against the limits), so the output does not
                // grow by doubling past it.
                let expected =
                    header.frames > 0
                    ? Resampler.outputLength(header.frames, from: header.sampleRate, to: sampleRate) : 0
                if header.sampleRate != sampleRate {
                    resampler = try StreamingResampler(
                        from: header.sampleRate, to: sampleRate, expectedOutput: expected)
                } else {
                    mono.reserveCapacity(expected)
                }
            }
            if channels == 1 && resampler == nil { mono.append(contentsOf: block); return }
            let scale = 1 / Float(channels)
            for f in 0..<frames {
                var s: Float = 0
                for c in 0..<channels { s += block[f * channels + c] }
                monoBlock[f] = s * scale
            }
            if let resampler {
                try monoBlock.withUnsafeBufferPointer { buffer throws(AudioError) in
                    try resampler.append(UnsafeBufferPointer(rebasing: buffer[0..<frames]))
                }
            } else {
                mono.append(contentsOf: monoBlock[0..<frames])
            }
        }
        if let resampler { mono = try resampler.finish() }
        if mono.isEmpty { throw .empty }
        return PreparedAudio(
            samples: mono, sampleRate: sampleRate, inputSampleRate: header.sampleRate,
            inputChannels: header.channels, format: header.format)
    }

    /// Kept for callers holding decoded audio (tests): downmix, then one-shot resampling.
    public static func prepare(_ decoded: DecodedAudio, sampleRate: Int) throws(AudioError) -> PreparedAudio {
        let resampled = try Resampler.resample(decoded.monoSamples(), from: decoded.sampleRate, to: sampleRate)
        if resampled.isEmpty { throw .empty }
        return PreparedAudio(
            samples: resampled, sampleRate: sampleRate, inputSampleRate: decoded.sampleRate,
            inputChannels: decoded.channels, format: decoded.format)
    }
}
