// FramesStream: the body of POST /embed with granularity=frames, written while it is sent. It is
// the same document a DTO would give ({"object":"list", ..., "data":[{"embedding":[[...],...],
// "timestamps_ms":[...], ...}], "usage":{...}}), produced one frame row at a time, so a response
// holds its frames as floats and never as a whole text.
import Foundation
import M2DJSON
import M2DModel

final class FramesStream: ResponseStream, @unchecked Sendable {
    // SAFETY: MHD pulls the body from one thread at a time.
    private let items: [EmbeddedClip]
    private let options: RequestOptions
    private let model: ModelConfig
    private var writer = JSONWriter(capacity: 64 * 1024)
    private var sent = 0
    private var item = -1
    private var row = 0
    private var done = false

    init(_ items: [EmbeddedClip], options: RequestOptions, model: ModelConfig) {
        self.items = items
        self.options = options
        self.model = model
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while writer.bytes.count - sent < buffer.count && !done { produce() }
        let n = min(buffer.count, writer.bytes.count - sent)
        writer.bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + sent, byteCount: n) }
        sent += n
        if sent == writer.bytes.count { writer.removeAll(); sent = 0 }
        return n
    }

    /// Appends the next piece: the document head, one frame row, an item's tail, or the end.
    private func produce() {
        if item < 0 {
            writer.raw("{\"object\":\"list\",\"model\":")
            writer.string(model.name)
            writer.raw(",\"dim\":")
            writer.int(model.embeddingDim)
            writer.raw(",\"data\":[")
            item = 0
            row = 0
            return
        }
        guard item < items.count else { return finish() }
        let e = items[item].embedding
        if row == 0 {
            if item > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.raw("{\"object\":\"embedding\",\"index\":")
            writer.int(item)
            writer.raw(",\"embedding\":")
            writer.raw(options.encodingFormat == .base64 ? "\"" : "[")
        }
        if row < e.frameCount {
            if options.encodingFormat == .base64 {
                // Three rows are a multiple of 12 bytes: the pieces join into one base64 text.
                let rows = row..<min(e.frameCount, row + 3)
                writer.base64FloatsUnquoted(rows.flatMap { vector(e, $0) })
                row = rows.upperBound
            } else {
                if row > 0 { writer.byte(UInt8(ascii: ",")) }
                writer.floats(vector(e, row))
                row += 1
            }
            return
        }
        if options.encodingFormat == .base64 {
            writer.raw("\",\"shape\":[")
            writer.int(e.frameCount)
            writer.byte(UInt8(ascii: ","))
            writer.int(e.dim)
            writer.byte(UInt8(ascii: "]"))
        } else {
            writer.byte(UInt8(ascii: "]"))
        }
        tail(e)
    }

    private func vector(_ e: Embedding, _ row: Int) -> [Float] {
        options.normalize ? EmbeddingValue.l2Normalized(e.frame(row)) : Array(e.frame(row))
    }

    private func tail(_ e: Embedding) {
        if !e.timestampsMs.isEmpty {
            writer.raw(",\"timestamps_ms\":")
            writer.floats(e.timestampsMs)
        }
        let facts = items[item].facts
        writer.raw(",\"duration_seconds\":")
        writer.number(facts.durationSeconds)
        writer.raw(",\"input_sample_rate\":")
        writer.int(facts.inputSampleRate)
        writer.raw(",\"input_channels\":")
        writer.int(facts.inputChannels)
        writer.byte(UInt8(ascii: "}"))
        item += 1
        row = 0
    }

    private func finish() {
        writer.raw("],\"usage\":")
        // The usage object is a DTO like every other body part.
        try? JSONEncoding.encode(Usage(items, model: model), into: &writer)
        writer.byte(UInt8(ascii: "}"))
        done = true
    }
}
