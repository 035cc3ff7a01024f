// OutputSink: JSON lines (stdout or file) or .npy + .files.txt, written atomically when to a file.
import ArgumentParser
import Foundation
import M2DCheckpoint
import M2DJSON
import M2DModel

struct OutputSink {
    let format: EmbedCommand.OutputFormat
    let out: String?
    let frames: Bool
    private var jsonl = Data()
    private var rows: [Float] = []
    private var dim = 0
    private var names: [String] = []
    private var namesSuffix = ".files.txt"

    init(format: EmbedCommand.OutputFormat, out: String?, frames: Bool) throws {
        self.format = format
        self.out = out
        self.frames = frames
    }

    mutating func write(file: String, embedding: Embedding) throws {
        switch format {
        case .jsonl:
            // One JSON line per input, written by the server's JSON writer (non-finite values are null).
            var line = JSONWriter(capacity: 16 * 1024)
            line.raw("{\"file\":")
            line.string(file)
            line.raw(",\"duration_seconds\":")
            line.number(embedding.durationSeconds)
            line.raw(",\"embedding\":")
            line.floats(embedding.clip)
            if frames {
                line.raw(",\"frames\":[")
                for i in 0..<embedding.frameCount {
                    if i > 0 { line.byte(UInt8(ascii: ",")) }
                    line.floats(embedding.frame(i))
                }
                line.raw("],\"timestamps_ms\":")
                line.floats(embedding.timestampsMs)
            }
            line.raw("}\n")
            if out == nil { FileHandle.standardOutput.write(Data(line.bytes)) } else { jsonl.append(Data(line.bytes)) }
        case .npy:
            dim = embedding.dim
            if frames {
                rows += embedding.frames
                names.append("\(file)\t\(embedding.frameCount)")
            } else {
                rows += embedding.clip
                names.append(file)
            }
        }
    }

    /// One text's embedding: a JSON line {"text", "embedding"}, or an .npy row named in X.texts.txt.
    mutating func write(text: String, embedding: UnsafeBufferPointer<Float>) throws {
        switch format {
        case .jsonl:
            var line = JSONWriter(capacity: 16 * 1024)
            line.raw("{\"text\":")
            line.string(text)
            line.raw(",\"embedding\":")
            line.floats(Array(embedding))
            line.raw("}\n")
            if out == nil { FileHandle.standardOutput.write(Data(line.bytes)) } else { jsonl.append(Data(line.bytes)) }
        case .npy:
            dim = embedding.count
            rows += embedding
            names.append(text.replacingOccurrences(of: "\n", with: " "))
            namesSuffix = ".texts.txt"
        }
    }

    func close() throws {
        guard let out else { return }
        switch format {
        case .jsonl:
            try AtomicFile.write(jsonl, to: out)
        case .npy:
            let count = dim == 0 ? 0 : rows.count / dim
            try AtomicFile.write(NpyFile.encode(rows, shape: [count, dim]), to: out)
            let base = out.hasSuffix(".npy") ? String(out.dropLast(4)) : out
            try AtomicFile.write(Data((names.joined(separator: "\n") + "\n").utf8), to: base + namesSuffix)
        }
    }
}
