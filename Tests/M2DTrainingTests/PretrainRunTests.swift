// PretrainRun as a library, in this process: it writes metrics.csv, the loss plot and snapshots,
// stops on request with its state saved, resumes to the same end, and drops metric rows that a
// crash left past the checkpoint.
import Foundation
import M2DCheckpoint
import M2DModel
import M2DTensor
import M2DTraining
import Testing
import TestSupport

@Suite(.serialized) struct PretrainRunTests {
    func setting() throws -> (PretrainConfig, PretrainData) {
        let dir = Fixtures.temporaryDirectory() + "/audio"
        _ = try TestAudio.toneTask(in: dir, frequencies: [300, 900, 2500], train: 3, valid: false)
        let encoder = ModelConfig(name: "t-80x64p16x16", embedDim: 32, depth: 1, numHeads: 2, inputSize: [80, 64])
        var config = PretrainConfig(
            network: M2DNetworkConfig(
                encoder: encoder, decoderDim: 16, decoderDepth: 1,
                decoderHeads: 2))
        config.epochs = 2
        config.batchSize = 4
        config.learningRate = 1e-3
        config.warmupEpochs = 1
        config.normDraws = 20
        let data = try PretrainData(
            files: try PretrainData.list([dir]), frontEnd: encoder.frontEnd,
            cacheDir: Fixtures.temporaryDirectory() + "/cache", progress: { _, _ in })
        return (config, data)
    }

    func metricRows(_ dir: String) throws -> [Int] {
        try String(contentsOfFile: dir + "/metrics.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .compactMap { $0.split(separator: ",").first.flatMap { Int($0) } }
    }

    @Test func stopsResumesAndKeepsItsFiles() throws {
        let (config, data) = try setting()
        let dir = Fixtures.temporaryDirectory() + "/run"
        var options = PretrainRunOptions()
        options.keepEvery = 3
        var lines: [String] = []
        let first = try PretrainRun(
            directory: dir, config: config, data: data, engine: .openBLAS, resume: false,
            options: options, log: { lines.append($0) })
        var steps = 0
        #expect(
            try first.run(shouldStop: {
                steps += 1; return steps > 4
            }) == .stopped)
        #expect(first.trainer.step == 4 && lines.last?.contains("interrupted") == true)
        #expect(try metricRows(dir) == [1, 2, 3, 4])
        #expect(FileManager.default.fileExists(atPath: dir + "/checkpoint-step-000000.safetensors"))
        #expect(FileManager.default.fileExists(atPath: dir + "/checkpoint-step-000003.safetensors"))
        #expect(FileManager.default.fileExists(atPath: dir + "/loss.png"))
        // A crash after step 4's row but before the next save leaves rows the resumed run repeats.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/metrics.csv"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("5,0,9.9,0,0,0,0\n".utf8))
        try handle.close()
        #expect(throws: PretrainRunError.self) {
            _ = try PretrainRun(
                directory: dir, config: config, data: data, engine: .openBLAS, resume: false, log: { _ in })
        }
        let resumed = try PretrainRun(
            directory: dir, config: config, data: data, engine: .openBLAS, resume: true,
            options: options, log: { _ in })
        #expect(resumed.trainer.step == 4)
        #expect(try resumed.run() == .finished)
        let total = resumed.trainer.totalSteps
        #expect(try metricRows(dir) == Array(1...total))
        #expect(try PretrainRun.isFinished(dir))
    }
}
