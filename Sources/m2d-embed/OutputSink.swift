// OutputSink: JSON lines (stdout or file) or .npy + .files.txt, written atomically when to a file.
import ArgumentParser
import Foundation
import M2DCheckpoint
import M2DModel

struct OutputSink {
    let format: EmbedCommand.OutputFormat
    let out: String?
    let frames: Bool
    private var jsonl = Data()
    private var rows: [Float] = []
    private var dim = 0
    private var names: [String] = []

    init(format: EmbedCommand.OutputFormat, out: String?, frames: Bool) throws {
        self.format = format
        self.out = out
        self.frames = frames
    }

    mutating func write(file: String, embedding: Embedding) throws {
        switch format {
        case .jsonl:
            var line = "{\"file\":" + JSONText.string(file) + ",\"embedding\":" + JSONText.floats(embedding.clip[...])
            if frames {
                line += ",\"frames\":["
                for i in 0..<embedding.frameCount {
                    if i > 0 { line += "," }
                    line += JSONText.floats(embedding.frame(i))
                }
                line += "],\"timestamps_ms\":" + JSONText.floats(embedding.timestampsMs[...])
            }
            line += "}\n"
            if out == nil { FileHandle.standardOutput.write(Data(line.utf8)) } else { jsonl.append(Data(line.utf8)) }
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

    func close() throws {
        guard let out else { return }
        switch format {
        case .jsonl:
            try AtomicFile.write(jsonl, to: out)
        case .npy:
            let count = dim == 0 ? 0 : rows.count / dim
            try AtomicFile.write(NpyFile.encode(rows, shape: [count, dim]), to: out)
            let base = out.hasSuffix(".npy") ? String(out.dropLast(4)) : out
            try AtomicFile.write(Data((names.joined(separator: "\n") + "\n").utf8), to: base + ".files.txt")
        }
    }
}

enum JSONText {
    static func string(_ s: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
        let text = data.flatMap { String(data: $0, encoding: .utf8) } ?? "[\"?\"]"
        return String(text.dropFirst().dropLast())
    }

    static func floats(_ values: ArraySlice<Float>) -> String {
        var s = "["
        s.reserveCapacity(values.count * 12)
        var first = true
        for v in values {
            if !first { s += "," }
            first = false
            s += v.isFinite ? "\(v)" : "null"
        }
        return s + "]"
    }
}
