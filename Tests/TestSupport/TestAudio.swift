// Small synthetic audio for tests: 16-bit PCM WAV bytes and labelled tone tasks on disk.
import Foundation
import M2DAudio

public enum TestAudio {
    public static func wav16(_ samples: [Float], rate: Int = 16000) -> [UInt8] {
        WavEncoder.pcm16(samples, sampleRate: rate)
    }

    /// `seconds` of a quiet two-tone signal as 16-bit mono WAV at `rate`.
    public static func longWAV(seconds: Double, rate: Int = 8000) -> [UInt8] {
        let n = Int(seconds * Double(rate))
        var samples = [Float](repeating: 0, count: n)
        for i in 0..<n { samples[i] = Float(0.1 * sin(Double(i) * 0.3) + 0.05 * sin(Double(i) * 0.017)) }
        return WavEncoder.pcm16(samples, sampleRate: rate)
    }

    /// The FLAC fixture (0.75 s stereo) with its STREAMINFO rewritten to claim `rate` Hz, `channels`
    /// channels and `seconds` of audio: the shape of a decompression bomb (a few hundred bytes that
    /// claim gigabytes of samples).
    public static func flacClaiming(rate: Int, channels: Int, seconds: Double) -> [UInt8] {
        var bytes = Fixtures.bytes(Fixtures.audio + "/tone.flac")
        precondition(bytes[0..<4].elementsEqual("fLaC".utf8) && bytes[4] & 0x7F == 0, "STREAMINFO comes first")
        // 20 bits rate, 3 bits channels-1, 5 bits bits-per-sample-1, 36 bits total samples (big-endian).
        let total = UInt64(Double(rate) * seconds) & ((1 << 36) - 1)
        let bitsPerSample = UInt64(bytes[20] & 0x01) << 4 | UInt64(bytes[21] >> 4)
        let packed = UInt64(rate) << 44 | UInt64(channels - 1) << 41 | bitsPerSample << 36 | total
        for i in 0..<8 { bytes[18 + i] = UInt8(truncatingIfNeeded: packed >> (56 - 8 * UInt64(i))) }
        return bytes
    }

    /// A task folder with `task.csv`: class k is a tone at frequencies[k] plus noise; per class
    /// `train` train clips, 3 valid (unless `valid` is false) and 3 test clips of 0.6 s.
    public static func toneTask(
        in dir: String, frequencies: [Double] = [300, 1200, 4000], train: Int = 8, valid: Bool = true, seed: UInt64 = 1
    ) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var state = seed
        func noise() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000) / 20000
        }
        var csv = "file,label,split\n"
        for (k, f) in frequencies.enumerated() {
            let splits = [("train", train)] + (valid ? [("valid", 3)] : []) + [("test", 3)]
            for (split, n) in splits {
                for i in 0..<n {
                    let phase = Double(i) * 0.7, amp = 0.2 + 0.05 * Double(i % 3)
                    let samples = (0..<9600).map { t in
                        Float(amp * sin(2 * Double.pi * f * Double(t) / 16000 + phase)) + noise()
                    }
                    let name = "c\(k)_\(split)_\(i).wav"
                    try Data(wav16(samples)).write(to: URL(fileURLWithPath: dir + "/" + name))
                    csv += "\(name),tone\(Int(f)),\(split)\n"
                }
            }
        }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: dir + "/task.csv"))
        return dir + "/task.csv"
    }
}
