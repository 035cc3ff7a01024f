// m2d-bench text: the M2D-CLAP text encoder's throughput next to transformers' BertModel on PyTorch fp32
// (tools/peers/bench_text_torch.py) with the same weights, in the same run, in rounds with alternating order:
// 8-token labels one at a time and 64 per call, labels of 3 to 16 tokens 64 per call (the peer pads them to the
// longest, as the official runtime's tokenizer call does; ours runs each at its length), 64-token captions 64
// per call, and zero-shot's 527 labels of 6 to 11 tokens in one call (cold) and from the label cache (cached).
// Texts/s, the ratio, and the engine that ran.
import ArgumentParser
import Foundation
import M2DServer
import M2DTensor
import M2DText

struct TextBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text", abstract: "Text embedding throughput vs transformers (PyTorch fp32), same weights.")

    @Option(help: "Python with torch and transformers (default $M2D_TORCH_PYTHON; scripts/venv.sh peers).")
    var python = ProcessInfo.processInfo.environment["M2D_TORCH_PYTHON"] ?? ""
    @Option(help: "A Hugging Face BERT folder (default: a random bert-base made by the peer script).")
    var folder: String?
    @Option(help: "bert-base-uncased's vocab.txt (scripts/text-fixtures.sh makes Tests/Fixtures/text/generated/).")
    var vocab = "Tests/Fixtures/text/generated/vocab.txt"
    @Option(help: "Rounds (ours and the peer alternate their order each round).") var rounds = 2
    @Option(help: "Timed repetitions per case and round (best is kept).") var repeats = 3
    @Option(help: "Threads for us and for PyTorch.") var threads = 2
    @Option(help: "Products on openblas or onednn.") var backend: GEMMEngine.Backend = .onednn
    @Option(help: "Precision of the products on onednn: fp32 (what the server runs), or bf16 to measure it.")
    var precision: GEMMEngine.Precision = .fp32

    static let words =
        ("the dog cat bird car train rain wind water door bell music voice child man woman engine siren clock "
        + "glass paper metal wood fire street crowd baby laugh cough whistle drum guitar piano horn knock "
        + "motor truck plane boat sea river forest night morning city room kitchen machine tool hammer").split(
            separator: " "
        ).map(String.init)

    /// `count` texts of `words` words each (all whole words of the vocabulary: tokens = words + 2).
    static func texts(_ count: Int, words n: Int, seed: Int) -> [String] {
        (0..<count).map { i in (0..<n).map { words[(i * 7 + $0 * 13 + seed) % words.count] }.joined(separator: " ") }
    }

    /// `count` texts of 1 to `maxWords` words, as label sets are (AudioSet's names run from 1 to 9 words).
    static func mixedTexts(_ count: Int, maxWords: Int, seed: Int) -> [String] {
        (0..<count).map { i in
            let n = 1 + (i * 5 + seed) % maxWords
            return (0..<n).map { words[(i * 11 + $0 * 17 + seed) % words.count] }.joined(separator: " ")
        }
    }

    func run() throws {
        let tmp = NSTemporaryDirectory() + "m2d-bench-text-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/peers/bench_text_torch.py").path
        let haveTorch = FileManager.default.isExecutableFile(atPath: python)
        var hf = folder ?? ""
        if folder == nil {
            guard haveTorch else {
                throw ValidationError("no --folder and no --python to make one (scripts/venv.sh peers)")
            }
            guard FileManager.default.fileExists(atPath: vocab) else {
                throw ValidationError("no vocabulary at \(vocab): run scripts/text-fixtures.sh, or pass --vocab")
            }
            hf = tmp + "/bert"
            guard try capture(python, [script, "make", "--out", hf, "--vocab", vocab], quiet: true) != nil else {
                throw ValidationError("the peer script could not make the model folder")
            }
        }
        let (hfConfig, tensors) = try TextImport.huggingFaceFolder(hf)
        let config = try TextImport.inferConfig(
            tensors, heads: hfConfig.numAttentionHeads, pooling: .cls, source: hf,
            epsilon: hfConfig.layerNormEps ?? 1e-12)
        try TextImport.write(config: config, tensors: tensors, vocabulary: hf + "/vocab.txt", to: tmp + "/model")
        BLAS.threads = threads
        let engine =
            backend == .openblas
            ? nil : try GEMMEngine(backend: backend, precision: precision, ownsWeights: true, fusedThreads: threads)
        let model = try TextModel(path: tmp + "/model/text", engine: engine)
        let labels = Self.texts(64, words: 6, seed: 1), captions = Self.texts(64, words: 62, seed: 2)
        let mixed = Self.mixedTexts(64, maxWords: 14, seed: 4)
        let zeroShot = Self.mixedTexts(527, maxWords: 6, seed: 3).map { "\($0) can be heard" }
        let cases: [(String, [[String]], Int)] = [
            ("labels b1", labels.map { [$0] }, 64), ("labels b64", [labels], 64),
            ("mixed b64", [mixed], 64), ("captions b64", [captions], 64), ("527 labels", [zeroShot], 527),
        ]
        let textsFile = tmp + "/texts.json"
        try JSONSerialization.data(withJSONObject: [
            "cases": Dictionary(uniqueKeysWithValues: cases.map { ($0.0, $0.1) })
        ])
        .write(to: URL(fileURLWithPath: textsFile))
        var ours: [String: Double] = [:], peer: [String: Double] = [:]
        for round in 0..<rounds {
            let order = round % 2 == 0 ? [true, false] : [false, true]
            for mine in order {
                if mine {
                    _ = try model.embed(["warm up"])
                    for (name, calls, _) in cases {
                        var best = Double.infinity
                        for _ in 0..<repeats {
                            let start = DispatchTime.now().uptimeNanoseconds
                            for texts in calls { _ = try model.embed(texts) }
                            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                        }
                        ours[name] = min(ours[name] ?? .infinity, best)
                    }
                } else if haveTorch,
                    let line = try capture(
                        python,
                        [
                            script, "run", "--folder", hf, "--texts", textsFile, "--threads", "\(threads)",
                            "--repeats", "\(repeats)", "--pooling", "cls",
                        ], quiet: true),
                    let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Double]
                {
                    for (k, v) in json { peer[k] = min(peer[k] ?? .infinity, v) }
                }
            }
        }
        let cached = cachedLookup(zeroShot, model: model)
        print(
            "text encoder \(config.layers) layers x \(config.hidden), \(threads) threads, ours on \(engineName(engine))"
        )
        print(
            String(
                format: "%-14@ %12@ %16@ %8@", "case" as NSString, "ours texts/s" as NSString,
                "torch texts/s" as NSString, "ratio" as NSString))
        for (name, _, count) in cases {
            let o = ours[name].map { Double(count) / $0 }, t = peer[name].map { Double(count) / $0 }
            let ratio = (o != nil && t != nil) ? String(format: "%.2fx", o! / t!) : "-"
            print(
                String(
                    format: "%-14@ %12@ %16@ %8@", name as NSString,
                    (o.map { String(format: "%.1f", $0) } ?? "-") as NSString,
                    (t.map { String(format: "%.1f", $0) } ?? "-") as NSString, ratio as NSString))
        }
        if let cold = ours["527 labels"] {
            print(
                String(
                    format: "zero-shot, 527 labels: cold %.1f ms, cached %.3f ms (label cache)", cold * 1000,
                    cached * 1000))
        }
    }

    /// Seconds to take the 527 label embeddings from a filled label cache (the server's path on a repeat).
    func cachedLookup(_ prompts: [String], model: TextModel) -> Double {
        let cache = LabelCache(capacity: 8192)
        let E = model.config.outputDim, embedded = (try? model.embed(prompts)) ?? FloatBuffer(count: prompts.count * E)
        for (i, p) in prompts.enumerated() {
            cache.put(p, Array(UnsafeBufferPointer(start: embedded.pointer + i * E, count: E)))
        }
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            var n = 0
            for p in prompts where cache.get(p) != nil { n += 1 }
            precondition(n == prompts.count)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    func engineName(_ engine: GEMMEngine?) -> String {
        engine.map { "oneDNN (\($0.summary))" } ?? "OpenBLAS"
    }
}
