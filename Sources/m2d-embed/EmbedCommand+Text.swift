// m2d-embed --text / --text-file: CLAP text embeddings from the model's text encoder, in batches.
import ArgumentParser
import Foundation
import M2DTensor
import M2DText

extension EmbedCommand {
    /// Texts per encoder call: a progress step, and the batch the encoder groups rows in.
    static let textBatch = 64

    /// fp32 on oneDNN where it loads (OpenBLAS otherwise, or with --backend openblas); bf16 with --precision bf16,
    /// or a clear error where the CPU has no bf16 kernels. int8 is for audio only.
    func textEngine() throws -> GEMMEngine? {
        switch precision {
        case .int8: throw ValidationError("texts run in fp32 or bf16: drop --precision int8 (int8 is for audio)")
        case .bf16:
            do {
                return try GEMMEngine(
                    backend: .onednn, precision: .bf16, ownsWeights: true, fusedThreads: threads ?? BLAS.threads)
            } catch {
                throw ValidationError("--precision bf16 for texts: \(error)")
            }
        case .fp32:
            if backend == .openblas { return nil }
            return try? GEMMEngine(backend: .onednn, ownsWeights: true, fusedThreads: threads ?? BLAS.threads)
        }
    }

    func runTexts() throws {
        var texts = text
        if let textFile {
            guard let data = FileManager.default.contents(atPath: textFile) else {
                throw ValidationError("cannot read --text-file \(textFile)")
            }
            guard let content = String(data: data, encoding: .utf8) else {
                throw ValidationError("--text-file \(textFile) is not UTF-8")
            }
            texts += content.split(whereSeparator: \.isNewline).map(String.init)
                .filter { !$0.allSatisfy(\.isWhitespace) }
        }
        if texts.isEmpty { throw ValidationError("no texts to embed (--text-file \(textFile ?? "") has no lines)") }
        let model: TextModel
        do {
            // The server's text engine (fp32 on oneDNN's packed GEMM, fused thread team), so both give the same
            // bits; OpenBLAS with --backend openblas or without oneDNN.
            let engine = try textEngine()
            guard let loaded = try TextModel.load(modelDirectory: self.model, engine: engine) else {
                throw TextModelError.noTextEncoder(model: self.model)
            }
            model = loaded
        } catch {
            FileHandle.standardError.write(Data("m2d-embed: \(error)\n".utf8))
            throw ExitCode(1)
        }
        // Every text is checked before any is embedded: a bad one is reported by its index (the --text entries
        // first, then the file's non-empty lines), and nothing is written. Each text is tokenized this once.
        let sequences: [[Int32]]
        do { sequences = try model.tokenize(texts, truncate: truncate) } catch {
            FileHandle.standardError.write(Data("m2d-embed: \(error)\n".utf8))
            throw ExitCode(1)
        }
        var sink = try OutputSink(format: format, out: out, frames: false)
        let progress = ProgressBar(total: texts.count)
        let E = model.config.outputDim
        var first = 0
        while first < texts.count {
            let last = min(texts.count, first + Self.textBatch)
            let embeddings = try model.encoder.embed(Array(sequences[first..<last]))
            for i in first..<last {
                try sink.write(
                    text: texts[i],
                    embedding: UnsafeBufferPointer(start: embeddings.pointer + (i - first) * E, count: E))
            }
            first = last
            progress.update(done: first)
        }
        progress.finish()
        try sink.close()
    }
}
