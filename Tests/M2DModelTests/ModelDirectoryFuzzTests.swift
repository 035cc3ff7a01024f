// Seeded fuzzing of model directories in-process: config.json fields, safetensors headers and head
// files mutated. Each load either succeeds or throws a ModelError that names its cause; none traps
// (a trap ends this test process, which fails the run) and none takes more than a moment.
import Foundation
import M2DCheckpoint
import M2DModel
import Testing
import TestSupport

@Suite struct ModelDirectoryFuzzTests {
    static let source = Fixtures.golden + "/tiny_208/model"

    func directory(config: String, weights: [UInt8]) throws -> String {
        let dir = Fixtures.temporaryDirectory()
        try Data(config.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        try Data(weights).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        return dir
    }

    @Test func mutatedConfigsAreClearErrorsOrLoad() throws {
        let config = String(decoding: Fixtures.bytes(Self.source + "/config.json"), as: UTF8.self)
        let weights = Fixtures.bytes(Self.source + "/model.safetensors")
        var m = ModelMutations(seed: 31)
        var refused = 0
        for _ in 0..<150 {
            let text = m.config(config)
            let dir = try directory(config: text, weights: weights)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let start = Date()
            do {
                _ = try ModelDirectory.load(dir)
            } catch {
                refused += 1
                #expect("\(error)".count > 20, "an unhelpful message for \(text): \(error)")
            }
            #expect(Date().timeIntervalSince(start) < 5, "\(text)")
        }
        #expect(refused > 100, "most mutations must be refused (\(refused) of 150)")
    }

    @Test func mutatedWeightHeadersAreClearErrorsOrLoad() throws {
        let config = String(decoding: Fixtures.bytes(Self.source + "/config.json"), as: UTF8.self)
        let weights = Fixtures.bytes(Self.source + "/model.safetensors")
        var m = ModelMutations(seed: 37)
        var refused = 0
        for _ in 0..<200 {
            let dir = try directory(config: config, weights: m.safetensors(weights))
            defer { try? FileManager.default.removeItem(atPath: dir) }
            do { _ = try ModelDirectory.load(dir) } catch {
                refused += 1
                guard case ModelError.checkpoint = error else {
                    // A header edit that still parses can only disagree with config.json.
                    #expect("\(error)".contains("config.json") || "\(error)".contains("norm_stats"), "\(error)")
                    continue
                }
            }
        }
        #expect(refused > 100, "most header edits must be refused (\(refused) of 200)")
    }

    @Test func mutatedHeadFilesAreClearErrorsOrLoad() throws {
        let dir = Fixtures.temporaryDirectory()
        let path = dir + "/head.safetensors"
        try ProbeHead(
            name: "h", labels: ["a", "b", "c"], multiLabel: false, weight: (0..<30).map { Float($0) / 30 },
            bias: [0, 1, 2], mean: [Float](repeating: 0.5, count: 10), scale: [Float](repeating: 2, count: 10)
        ).write(to: path)
        let good = Fixtures.bytes(path)
        var m = ModelMutations(seed: 41)
        var refused = 0
        for _ in 0..<200 {
            try Data(m.safetensors(good)).write(to: URL(fileURLWithPath: path))
            do {
                let head = try ProbeHead.load(path)
                #expect(head.scale.allSatisfy { $0 > 0 && $0.isFinite } && head.weight.count == head.classes * head.dim)
            } catch {
                refused += 1
            }
        }
        #expect(refused > 100, "\(refused) of 200")
        // A zero or NaN scale is refused, not divided by.
        for scale in [Float(0), .nan, -1] {
            try ProbeHead(
                name: "h", labels: ["a"], multiLabel: false, weight: [1, 1], bias: [0], mean: [0, 0], scale: [1, scale]
            ).write(to: path)
            #expect(throws: ModelError.self) { try ProbeHead.load(path) }
        }
    }
}
