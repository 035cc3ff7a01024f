// Small synthetic audio for tests: 16-bit PCM WAV bytes and labelled tone tasks on disk.
import Foundation
import M2DAudio

public enum TestAudio {
    public static func wav16(_ samples: [Float], rate: Int = 16000) -> [UInt8] {
        WavEncoder.pcm16(samples, sampleRate: rate)
    }

    /// A task folder with `task.csv`: class k is a tone at frequencies[k] plus noise; per class
    /// `train` train clips, 3 valid (unless `valid` is false) and 3 test clips of 0.6 s.
    public static func toneTask(in dir: String, frequencies: [Double] = [300, 1200, 4000], train: Int = 8, valid: Bool = true, seed: UInt64 = 1) throws -> String {
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
                    let samples = (0..<9600).map { t in Float(amp * sin(2 * Double.pi * f * Double(t) / 16000 + phase)) + noise() }
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
