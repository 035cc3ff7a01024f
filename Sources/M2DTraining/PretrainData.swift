// PretrainData: the audio of a pre-training run as unnormalized log-mel (docs/NUMERICS.md §5.1): decoded at
// any rate by the serving decoder, resampled to the model rate, cached on disk (.npy per file, so
// epoch 2 and later runs decode nothing), norm stats from random crops, random fixed-length crops
// zero-padded in the raw log domain. Unreadable files are skipped, counted and listed.
import Foundation
import M2DAudio
import M2DCheckpoint
import M2DModel
import M2DTensor

public final class PretrainData: @unchecked Sendable {
    // SAFETY: immutable after init.
    public let files: [String]
    public let skipped: [(file: String, reason: String)]
    /// (mels, T_i) log-mel per file.
    public let mels: [FloatBuffer]
    public let frames: [Int]
    public let nMels: Int

    /// Files from folders (recursive, sorted) and CSVs (a `file_name` or `file` column, or one path per line).
    public static func list(_ inputs: [String]) throws -> [String] {
        var out: [String] = []
        for input in inputs {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else {
                throw ProbeTask.Failure.unreadable("no such file or folder: \(input)")
            }
            if isDir.boolValue {
                let walker = FileManager.default.enumerator(atPath: input)
                var found: [String] = []
                while let rel = walker?.nextObject() as? String {
                    if AudioFormat.isAudioFile(rel) { found.append(input + "/" + rel) }
                }
                out += found.sorted()
            } else if input.hasSuffix(".csv") || input.hasSuffix(".txt") {
                let base = (input as NSString).deletingLastPathComponent
                let lines = (try String(contentsOfFile: input, encoding: .utf8)).split(whereSeparator: \.isNewline).map(
                    String.init)
                let header = lines.first?.split(separator: ",").map(String.init) ?? []
                let column = header.firstIndex(of: "file_name") ?? header.firstIndex(of: "file")
                for line in lines.dropFirst(column == nil ? 0 : 1) {
                    let field =
                        column.map {
                            line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)[safe: $0]
                                ?? ""
                        } ?? line
                    if field.isEmpty { continue }
                    out.append(field.hasPrefix("/") || base.isEmpty ? field : base + "/" + field)
                }
            } else {
                out.append(input)
            }
        }
        return out
    }

    public init(
        files all: [String], frontEnd: FrontEndConfig, cacheDir: String, progress: (Int, Int) -> Void = { _, _ in }
    ) throws {
        try FileManager.default.createDirectory(atPath: cacheDir, withIntermediateDirectories: true)
        let fe = LogMelFrontEnd(frontEnd)
        var files: [String] = [], skipped: [(String, String)] = [], mels: [FloatBuffer] = [], frames: [Int] = []
        for (i, file) in all.enumerated() {
            defer { progress(i + 1, all.count) }
            let key = Self.cacheKey(file, frontEnd)
            let cachePath = cacheDir + "/" + key + ".npy"
            if let data = FileManager.default.contents(atPath: cachePath), let (values, shape) = NpyFile.decode(data),
                shape.count == 2, shape[0] == frontEnd.nMels
            {
                files.append(file); mels.append(FloatBuffer(values)); frames.append(shape[1])
                continue
            }
            do {
                guard let bytes = FileManager.default.contents(atPath: file) else {
                    throw AudioError.undecodable(reason: "cannot read file")
                }
                let audio = try AudioPipeline.prepare(
                    [UInt8](bytes), sampleRate: frontEnd.sampleRate, maxSeconds: 3 * 3600)
                var samples = audio.samples
                if samples.count < frontEnd.minimumSamples {
                    samples += [Float](repeating: 0, count: frontEnd.minimumSamples - samples.count)
                }
                let mel = fe.logMel(samples)
                let T = mel.count / frontEnd.nMels
                try AtomicFile.write(NpyFile.encode(mel.toArray(), shape: [frontEnd.nMels, T]), to: cachePath)
                files.append(file); mels.append(mel); frames.append(T)
            } catch {
                skipped.append((file, "\(error)"))
            }
        }
        self.files = files
        self.skipped = skipped
        self.mels = mels
        self.frames = frames
        nMels = frontEnd.nMels
    }

    static func cacheKey(_ file: String, _ fe: FrontEndConfig) -> String {
        let a = try? FileManager.default.attributesOfItem(atPath: file)
        let size = (a?[.size] as? NSNumber)?.intValue ?? 0
        let modified = (a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let stamp = "\(file)|\(size)|\(modified)|\(fe.sampleRate)|\(fe.nFFT)|\(fe.nMels)"
        let h = stamp.utf8.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1)) &* 1099511628211 }
        return String(h, radix: 16)
    }

    /// Writes a random `length`-frame crop of file `i` into out (mels, length), zero-padded at the
    /// end (raw log domain) when shorter, then normalized. start = randint in [0, l - length).
    public func crop(
        _ i: Int, length: Int, rng: inout Rng, mean: Float, std: Float, into out: UnsafeMutablePointer<Float>
    ) {
        let T = frames[i], src = mels[i].pointer
        let start = T > length ? Int(rng.next() % UInt64(T - length)) : 0
        let n = min(length, T)
        for m in 0..<nMels {
            let row = out + m * length
            for t in 0..<n { row[t] = (src[m * T + start + t] - mean) / std }
            for t in n..<length { row[t] = (0 - mean) / std }
        }
    }

    /// Norm stats from `draws` random crops (files drawn with replacement): scalar mean, unbiased
    /// std + float32 eps (audio_dataset.py).
    public func normStats(draws: Int, length: Int, rng: inout Rng) -> (mean: Float, std: Float) {
        var sum = 0.0, sumSq = 0.0, n = 0.0
        let buffer = FloatBuffer(count: nMels * length)
        for _ in 0..<draws {
            let i = Int(rng.next() % UInt64(files.count))
            crop(i, length: length, rng: &rng, mean: 0, std: 1, into: buffer.pointer)
            for k in 0..<buffer.count { let x = Double(buffer.pointer[k]); sum += x; sumSq += x * x }
            n += Double(buffer.count)
        }
        let mean = sum / n
        let variance = max(0, (sumSq - n * mean * mean) / max(1, n - 1))
        return (Float(mean), Float(variance.squareRoot()) + Float.ulpOfOne)
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
