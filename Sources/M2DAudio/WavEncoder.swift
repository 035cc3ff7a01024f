// WavEncoder: 16-bit PCM WAV bytes (warm-up passes, benchmarks and test fixtures).

public enum WavEncoder {
    /// Mono or interleaved samples in [-1, 1] as a 16-bit PCM WAV file.
    public static func pcm16(_ samples: [Float], sampleRate: Int, channels: Int = 1) -> [UInt8] {
        // The RIFF sizes are 32-bit: callers pass our own short signals (warm-up, benchmarks, tests).
        precondition(samples.count <= (Int(UInt32.max) - 36) / 2, "WAV body over 4 GiB: \(samples.count) samples")
        var out: [UInt8] = []
        out.reserveCapacity(44 + samples.count * 2)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out += $0 } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { out += $0 } }
        out += Array("RIFF".utf8); u32(36 + samples.count * 2); out += Array("WAVE".utf8)
        out += Array("fmt ".utf8); u32(16); u16(1); u16(channels); u32(sampleRate); u32(sampleRate * channels * 2);
        u16(channels * 2); u16(16)
        out += Array("data".utf8); u32(samples.count * 2)
        for s in samples { withUnsafeBytes(of: Int16(max(-1, min(1, s)) * 32767).littleEndian) { out += $0 } }
        return out
    }
}
