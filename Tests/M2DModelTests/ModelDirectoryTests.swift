// Loading model directories: strict verification, norm_stats precedence, clear errors.
import Foundation
import M2DCheckpoint
import M2DModel
import M2DTensor
import Testing
import TestSupport

@Suite struct ModelDirectoryTests {
    func writeModel(_ config: ModelConfig, tensors: (inout SafeTensorsWriter) -> Void) throws -> String {
        let dir = Fixtures.temporaryDirectory()
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .useDefaultKeys
        try encoder.encode(config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        var writer = SafeTensorsWriter()
        tensors(&writer)
        try writer.write(to: dir + "/model.safetensors")
        return dir
    }

    let tiny = ModelConfig(name: "t-80x64p16x16", embedDim: 8, depth: 1, numHeads: 2, inputSize: [80, 64])

    func addAll(
        _ w: EncoderWeights, to writer: inout SafeTensorsWriter, skip: String? = nil, reshape: (String, Shape)? = nil
    ) {
        for e in w.layout.entries where e.name != skip {
            let shape = reshape?.0 == e.name ? reshape!.1 : e.shape
            if shape.count == e.shape.count {
                writer.add(e.name, shape: shape, values: w.storage.pointer + e.offset)
            } else {
                writer.add(e.name, shape: shape, array: [Float](repeating: 0, count: shape.count))
            }
        }
    }

    @Test func roundTripsRandomWeightsAndIgnoresExtraKeys() throws {
        let w = EncoderWeights.random(config: tiny, seed: 1)
        let dir = try writeModel(tiny) { writer in
            addAll(w, to: &writer)
            writer.add("decoder_embed.weight", shape: [4, 8], array: [Float](repeating: 1, count: 32))
        }
        let loaded = try ModelDirectory.load(dir)
        #expect(loaded.weights.storage.toArray() == w.storage.toArray())
        #expect(loaded.ignoredKeys == ["decoder_embed.weight"])
        #expect(loaded.config.normStats == [-7.1, 4.2])
    }

    @Test func normStatsInWeightsWinOverConfig() throws {
        let w = EncoderWeights.random(config: tiny, seed: 2)
        let dir = try writeModel(tiny) { writer in
            addAll(w, to: &writer)
            writer.add("norm_stats", shape: [2], array: [-5.5, 3.25])
        }
        #expect(try ModelDirectory.load(dir).config.normStats == [-5.5, 3.25])
    }

    @Test func missingKeyNamesKeyAndShape() throws {
        let w = EncoderWeights.random(config: tiny, seed: 3)
        let dir = try writeModel(tiny) { addAll(w, to: &$0, skip: "blocks.0.attn.qkv.weight") }
        #expect(throws: ModelError.checkpoint(.missingKey(key: "blocks.0.attn.qkv.weight", expected: [24, 8]))) {
            try ModelDirectory.load(dir)
        }
        let message = "\(ModelError.checkpoint(.missingKey(key: "blocks.0.attn.qkv.weight", expected: [24, 8])))"
        #expect(message.contains("blocks.0.attn.qkv.weight") && message.contains("[24, 8]"))
    }

    @Test func wrongShapeNamesExpectedAndActual() throws {
        let w = EncoderWeights.random(config: tiny, seed: 4)
        let dir = try writeModel(tiny) { addAll(w, to: &$0, reshape: ("blocks.0.attn.proj.weight", [16, 4])) }
        do {
            _ = try ModelDirectory.load(dir)
            Issue.record("expected a shape error")
        } catch {
            #expect(
                error
                    == .checkpoint(.shapeMismatch(key: "blocks.0.attn.proj.weight", expected: [8, 8], actual: [16, 4])))
            #expect("\(error)".contains("[8, 8]") && "\(error)".contains("[16, 4]"))
        }
        // The shapes config.json sets are named by its field.
        let mlp = try writeModel(tiny) { addAll(w, to: &$0, reshape: ("blocks.0.mlp.fc1.weight", [16, 4])) }
        #expect {
            try ModelDirectory.load(mlp)
        } throws: { error in
            "\(error)".contains("mlp_ratio 4.0 makes 32 MLP units; blocks.0.mlp.fc1.weight is [16, 4]")
        }
    }

    @Test func missingDirectoryAndBadConfigAreClear() throws {
        #expect(throws: ModelError.notFound(path: "/nonexistent/model")) {
            try ModelDirectory.load("/nonexistent/model")
        }
        let dir = Fixtures.temporaryDirectory()
        try Data("{\"name\": 3}".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        #expect {
            try ModelDirectory.load(dir)
        } throws: { error in
            guard case let ModelError.invalidConfig(reason) = error else { return false }
            return reason.contains("config.json")
        }
    }

    @Test func configValidationRejectsIndivisibleHeads() {
        var c = tiny
        c.numHeads = 3
        #expect(throws: ModelError.self) { try c.validate() }
    }

    @Test func f16WeightsWidenExactly() throws {
        let w = EncoderWeights.random(config: tiny, seed: 5)
        let dir = try writeModel(tiny) { writer in
            for e in w.layout.entries {
                writer.add(e.name, shape: e.shape, values: w.storage.pointer + e.offset, dtype: .f16)
            }
        }
        let loaded = try ModelDirectory.load(dir)
        let expected = w.storage.toArray().map { Float(Float16($0)) }
        #expect(loaded.weights.storage.toArray() == expected)
    }
}
