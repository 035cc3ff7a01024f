// An official AudioSet-style head (EVAR layout, imported from a .pth) served by /classify: sigmoid by default,
// raw logits with function_to_apply=none equal the official runtime's, granularity=frames tags every frame
// with its timestamp, /info lists the head; a head file without labels gets index names and a log warning.
import Foundation
import M2DCheckpoint
import M2DModel
import M2DServer
import Testing
import TestSupport

@Suite(.serialized) struct AudioSetHeadTests {
    static let folder = Fixtures.families + "/audioset_608"

    /// The golden AudioSet-style checkpoint as a model directory with heads/audioset.safetensors.
    func importedModel(labels: [String]?) throws -> String {
        let pth = Self.folder + "/m2d_as_vit_base-80x608p16x16-240213_AS-FT_enconly/weights_ep69it3124-0.47929.pth"
        let dir = Fixtures.temporaryDirectory() + "/as"
        let loaded = try OfficialCheckpoint.load(pth)
        try ModelDirectory.write(loaded.weights, to: dir, dtype: .f32)
        let head = try #require(try OfficialHead.load(pth, name: "audioset", labels: labels, config: loaded.config))
        try head.write(to: dir + "/heads/audioset.safetensors")
        if labels == nil {
            // A head file written by another tool, with no labels at all.
            let file = try SafeTensorsFile(path: dir + "/heads/audioset.safetensors")
            var writer = SafeTensorsWriter()
            for key in ["weight", "bias", "mean", "scale"] {
                writer.add(key, shape: file.shape(of: key)!, array: try file.array(key))
            }
            writer.metadata = ["multi_label": "true", "input": "token_mean"]
            try writer.write(to: dir + "/heads/audioset.safetensors")
        }
        return dir
    }

    func scores(_ r: TestResponse) throws -> [String: Float] {
        let list = try #require(r.jsonArray as? [[String: Any]], "\(r.text)")
        return Dictionary(
            uniqueKeysWithValues: list.map { ($0["label"] as! String, ($0["score"] as! NSNumber).floatValue) })
    }

    @Test func classifiesClipsAndFramesAsTheOfficialRuntime() throws {
        let labels = (0..<7).map { "label \($0), with a comma" }
        let model = try importedModel(labels: labels)
        let expected = try SafeTensorsFile(path: Self.folder + "/expected.safetensors")
        try TestServer.with(model: model) { s in
            let wav = audio("five_sec_tone_noise")
            let logits = try expected.array("logits.five_sec_tone_noise")
            let raw = try scores(try s.post("/classify?function_to_apply=none", contentType: "audio/wav", body: wav))
            let sigmoid = try scores(try s.post("/classify", contentType: "audio/wav", body: wav))
            #expect(raw.count == 7 && sigmoid.count == 7)
            for (i, label) in labels.enumerated() {
                #expect(abs(raw[label]! - logits[i]) <= 1e-3, "\(label): \(raw[label]!) vs \(logits[i])")
                let p = 1 / (1 + exp(-logits[i]))
                #expect(abs(sigmoid[label]! - p) <= 1e-4, "\(label): \(sigmoid[label]!) vs \(p)")
            }

            let frames = try s.post(
                "/classify?granularity=frames&function_to_apply=none&top_k=7", contentType: "audio/wav", body: wav)
            let list = try #require(frames.jsonArray as? [[String: Any]], "\(frames.text)")
            let frameLogits = try expected.array("frame_logits.five_sec_tone_noise")
            let stamps = try expected.array("frame_timestamps_ms.five_sec_tone_noise")
            #expect(list.count == stamps.count)
            for (t, entry) in list.enumerated() {
                #expect(abs(((entry["timestamp_ms"] as? NSNumber)?.floatValue ?? -1) - stamps[t]) <= 1e-2)
                let tags = try #require(entry["labels"] as? [[String: Any]])
                #expect(tags.count == 7)
                for tag in tags {
                    let i = labels.firstIndex(of: tag["label"] as! String)!
                    let score = (tag["score"] as! NSNumber).floatValue
                    #expect(abs(score - frameLogits[t * 7 + i]) <= 1e-3, "frame \(t) \(tag)")
                }
            }
            // Frame answers keep the best five labels unless top_k says otherwise.
            let short = try s.post("/classify?granularity=frames", contentType: "audio/wav", body: wav)
            let shortList = try #require(short.jsonArray as? [[String: Any]])
            #expect(shortList.allSatisfy { ($0["labels"] as? [Any])?.count == 5 })

            let heads = try #require(try s.get("/info").json?["heads"] as? [[String: Any]])
            #expect(heads.count == 1 && heads[0]["name"] as? String == "audioset")
            #expect(heads[0]["input"] as? String == "token_mean" && heads[0]["classes"] as? Int == 7)
            #expect(heads[0]["multi_label"] as? Bool == true && heads[0]["default_function"] as? String == "sigmoid")
        }
    }

    @Test func aHeadWithoutLabelsGetsIndexNamesAndAWarning() throws {
        let model = try importedModel(labels: nil)
        let server = try ServerProcess([], model: model)
        let r = try server.postWAV("/classify", audio("short_chirp"))
        #expect(r.status == 200, "\(r.text)")
        let names = Set(try scores(r).keys)
        #expect(names == Set((0..<7).map { String($0) }))
        #expect(server.output.contains("has no 'labels' metadata"), "\(server.output)")
    }
}

/// /embed?projection=clap on an imported M2D-CLAP (2025) model: the official encode_clap_audio values.
@Suite(.serialized) struct CLAPProjectionTests {
    @Test func projectedClipsMatchTheOfficialRuntime() throws {
        let folder = Fixtures.families + "/clap2025_1001"
        let pth = folder + "/m2d_clap_vit_base-80x1001p16x16p16kpB-2025/checkpoint-300.pth"
        let dir = Fixtures.temporaryDirectory() + "/clap"
        let loaded = try OfficialCheckpoint.load(pth)
        try ModelDirectory.write(loaded.weights, to: dir, dtype: .f32)
        try #require(try AudioProjection.official(pth, dim: 128)).write(toModel: dir)
        let expected = try SafeTensorsFile(path: folder + "/expected.safetensors")
        try TestServer.with(model: dir) { s in
            let r = try s.post("/embed?projection=clap", contentType: "audio/wav", body: audio("ten_sec_mod"))
            #expect(r.status == 200, "\(r.text)")
            #expect(r.json?["dim"] as? Int == 128)
            let data = try #require(r.json?["data"] as? [[String: Any]])
            let got = try #require(floats(data.first?["embedding"]))
            let cmp = Numerics.compare("clap", got, try expected.array("clap.ten_sec_mod"), atol: 1e-3)
            #expect(cmp.violations == 0 && cmp.cosine >= 0.99999, "\(cmp)")
            // The option belongs to /embed: elsewhere it is refused, not ignored.
            let openAI = try s.postJSON(
                "/v1/embeddings", ["input": Data(audio("short_chirp")).base64EncodedString(), "projection": "clap"])
            #expect(openAI.status == 422 && openAI.text.contains("projection applies to /embed only"), "\(openAI.text)")
            let info = try #require(try s.get("/info").json?["audio_projection"] as? [String: Any])
            #expect(info["kind"] as? String == "semantic" && info["dim"] as? Int == 128)
            expectError(
                try s.post(
                    "/embed?projection=clap&granularity=frames", contentType: "audio/wav", body: audio("short_chirp")),
                422, "validation", contains: "clip embeddings only")
        }
        try TestServer.with { s in
            expectError(
                try s.post("/embed?projection=clap", contentType: "audio/wav", body: audio("short_chirp")), 422,
                "validation", contains: "no audio projection")
            #expect(try s.get("/info").text.contains("\"audio_projection\":null"))
        }
    }
}
