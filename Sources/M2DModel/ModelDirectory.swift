// ModelDirectory: loads config.json + model.safetensors (docs/DESIGN.md "Model directory").
// `norm_stats` stored in the weights wins over config.json (docs/NUMERICS.md §1.4).
import Foundation
import M2DCheckpoint
import M2DTensor

public struct LoadedModel: Sendable {
    public let directory: String
    public let config: ModelConfig
    public let weights: EncoderWeights
    /// Keys in the weights file the encoder did not use (predictor, target, optimizer...).
    public let ignoredKeys: [String]
}

public enum ModelDirectory {
    /// Loads a model directory. Give the engine that will run it when it owns its weights
    /// (m2d-server, m2d-embed): the Linear weights are handed over while loading (see EncoderWeights).
    public static func load(_ path: String, engine: GEMMEngine? = nil) throws(ModelError) -> LoadedModel {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw .notFound(path: path)
        }
        let configPath = path + "/config.json", weightsPath = path + "/model.safetensors"
        guard let data = FileManager.default.contents(atPath: configPath) else { throw .notFound(path: path) }
        var config: ModelConfig
        do {
            config = try JSONDecoder().decode(ModelConfig.self, from: data)
        } catch {
            throw .invalidConfig("\(configPath): \(Self.describe(error))")
        }
        // Each field on its own first (a contradiction of the weights is meaningless if the config is
        // impossible), then against the weights' tensors; only then is anything allocated from it.
        try config.validate()
        let file = try ModelError.mapping { try SafeTensorsFile(path: weightsPath) }
        try config.check(against: file)
        if file.shape(of: "norm_stats") == [2] {
            let stats = try ModelError.mapping { try file.array("norm_stats") }
            guard stats.allSatisfy(\.isFinite), stats[1] > 0 else {
                throw .invalidConfig("\(weightsPath): norm_stats \(stats) must be finite with std > 0")
            }
            config.normStats = stats
        }
        let weights = try EncoderWeights(config: config, file: file, engine: engine)
        let used = Set(weights.layout.entries.map(\.name) + ["norm_stats"])
        return LoadedModel(
            directory: path, config: config, weights: weights,
            ignoredKeys: file.keys.filter { !used.contains($0) })
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, _): "missing key '\(key.stringValue)'"
        case let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx):
            "wrong type at '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'"
                + (ctx.debugDescription.hasSuffix("is not an integer") ? " (\(ctx.debugDescription))" : "")
        case let DecodingError.dataCorrupted(ctx) where !ctx.codingPath.isEmpty:
            "bad value at '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' (\(ctx.debugDescription))"
        case let DecodingError.dataCorrupted(ctx): "not valid JSON (\(ctx.debugDescription))"
        default: "\(error)"
        }
    }
}

extension ModelDirectory {
    /// Writes a model directory (config.json + model.safetensors, norm_stats included), each file
    /// atomically. `dtype` F16 halves the size; BF16 keeps the F32 range.
    public static func write(
        _ weights: EncoderWeights, to path: String, dtype: DType = .f32,
        metadata: [String: String] = [:]
    ) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var writer = SafeTensorsWriter(metadata: metadata.merging(["format": "pt"]) { a, _ in a })
        for e in weights.layout.entries {
            writer.add(e.name, shape: e.shape, values: weights.storage.pointer + e.offset, dtype: dtype)
        }
        writer.add("norm_stats", shape: [2], array: weights.config.normStats)
        try writer.write(to: path + "/model.safetensors")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(weights.config) + Data("\n".utf8), to: path + "/config.json")
    }
}
