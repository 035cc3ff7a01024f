// TextJob: one request's token sequences waiting for the text encoder on the scheduler's thread. The scheduler
// takes its texts in groups (TextJob.groupRows token rows at most, from every waiting text job in turn) between
// audio batches, so a long audio request never starves text requests, nor a long list of texts audio ones.
import Foundation
import M2DTensor
import M2DText

public final class TextJob: @unchecked Sendable {
    // SAFETY: `taken`, `done`, `cancelled` and `finished` are touched only under the scheduler's lock, or by
    // its thread between taking texts and finishing their group; `output` rows are written by that thread,
    // each once, before the completion reads them.
    public typealias Completion = @Sendable (Result<FloatBuffer, ServerError>, JobTimings) -> Void

    /// Token rows per group on the encoder: about 64 labels, or one 512-token text. A group cannot be
    /// interrupted, so this bounds what an audio request arriving meanwhile waits: about 0.45 s for bert-base
    /// on 2 Zen 4 cores (1,160 tokens/s), under the audio batches' --max-batch-ms of 1 s.
    public static let groupRows = 512

    let sequences: [[Int32]]
    let encoder: BertTextEncoder
    /// (sequences.count, outputDim), row i for sequence i.
    let output: FloatBuffer
    let completion: Completion
    let enqueuedNanos = DispatchTime.now().uptimeNanoseconds
    var taken = 0
    var done = 0
    var timings = JobTimings()
    var started = false
    var cancelled = false
    var finished = false

    public init(sequences: [[Int32]], encoder: BertTextEncoder, completion: @escaping Completion) {
        self.sequences = sequences
        self.encoder = encoder
        output = FloatBuffer(count: sequences.count * encoder.config.outputDim)
        self.completion = completion
    }

    var remaining: Int { sequences.count - taken }
}

/// A group of texts from one or more jobs that the scheduler's thread encodes in one call per encoder.
struct TextGroup {
    var parts: [(job: TextJob, range: Range<Int>)] = []
    var rows = 0

    /// Encodes every part (one call per distinct encoder: a SIGHUP may have replaced it between jobs). A failed
    /// product throws: its jobs are answered with the error, and nothing of them is cached.
    func run() throws(TextModelError) {
        var index = 0
        while index < parts.count {
            let encoder = parts[index].job.encoder
            var same: [(job: TextJob, range: Range<Int>)] = []
            while index < parts.count && parts[index].job.encoder === encoder {
                same.append(parts[index])
                index += 1
            }
            let sequences = same.flatMap { Array($0.job.sequences[$0.range]) }
            let out = try encoder.embed(sequences)
            let E = encoder.config.outputDim
            var row = 0
            for part in same {
                (part.job.output.pointer + part.range.lowerBound * E).update(
                    from: out.pointer + row * E, count: part.range.count * E)
                row += part.range.count
            }
        }
    }
}
