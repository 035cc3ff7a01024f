// ModelFrontEnd: the model's log-mel front end plus its normalisation (norm_stats). Thread-safe to
// share (its tables are read-only); the server keeps several, one per preprocessing thread.
import M2DAudio
import M2DTensor

public final class ModelFrontEnd: @unchecked Sendable {
    // SAFETY: immutable after init.
    public let config: ModelConfig
    public let logMelFrontEnd: LogMelFrontEnd

    public init(config: ModelConfig) {
        self.config = config
        logMelFrontEnd = LogMelFrontEnd(config.frontEnd)
    }

    /// Unnormalised log-mel (mels, T). Clips shorter than the front end's minimum (n_fft/2 + 1
    /// samples, below which the official reflect padding raises) are zero-padded to it.
    public func logMel(_ samples: [Float]) -> FloatBuffer {
        let minimum = config.frontEnd.minimumSamples
        if samples.count >= minimum { return logMelFrontEnd.logMel(samples) }
        return logMelFrontEnd.logMel(samples + [Float](repeating: 0, count: minimum - samples.count))
    }

    /// Log-mel normalised with the model's norm_stats: (x - mean) / std.
    public func normalizedLogMel(_ samples: [Float]) -> FloatBuffer {
        let mel = logMel(samples)
        LogMelFrontEnd.normalize(mel.pointer, count: mel.count, mean: config.normStats[0], std: config.normStats[1])
        return mel
    }
}
