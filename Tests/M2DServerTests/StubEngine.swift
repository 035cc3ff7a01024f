// StubEngine: an EncoderEngine for server tests that exercise scheduling, not numerics. Each call
// takes `delay`, can be held at a gate or made to fail, returns constant tokens, and records the
// size of every batch it ran.
import Foundation
import M2DModel
import M2DServer
import M2DTensor
import TestSupport

final class StubEngine: EncoderEngine, @unchecked Sendable {
    // SAFETY: the controls and the record are guarded by `lock`; the output buffer is used by the
    // scheduler's thread only.
    let config: ModelConfig
    let summary = "stub"
    let precision = GEMMEngine.Precision.fp32
    let engineWeightBytes = 0
    private let lock = NSLock()
    private var delay: Double
    private var delayPerChunk = 0.0
    private var failuresLeft = 0
    private var gate: DispatchSemaphore?
    private var batches: [Int] = []
    private var output = FloatBuffer(count: 1)

    init(config: ModelConfig, delay: Double = 0) {
        self.config = config
        self.delay = delay
    }

    /// A loader for TestServer that serves this engine with the tiny model's config.
    static func loader(_ engine: StubEngine) -> @Sendable (ServerConfig) throws -> LoadedEngine {
        { _ in LoadedEngine(model: engine.config, engine: engine, sha: String(repeating: "0", count: 64)) }
    }

    static func tiny(delay: Double = 0) throws -> StubEngine {
        StubEngine(config: try ModelDirectory.load(TestServer.tinyModel).config, delay: delay)
    }

    func set(delay: Double, perChunk: Double = 0) {
        lock.withLock {
            self.delay = delay; delayPerChunk = perChunk
        }
    }
    func failNext(_ count: Int) { lock.withLock { failuresLeft = count } }
    /// Holds every call until `open()`.
    func close() { lock.withLock { gate = DispatchSemaphore(value: 0) } }
    func open() {
        let g = lock.withLock { () -> DispatchSemaphore? in
            defer { gate = nil }; return gate
        }
        g?.signal()
    }

    var batchSizes: [Int] { lock.withLock { batches } }
    var encodedChunks: Int { lock.withLock { batches.reduce(0, +) } }

    func reserve(chunks: Int) {}

    func encode(_ chunks: [EncoderChunk]) throws(EncoderError) -> EncoderOutput {
        let (wait, pause) = lock.withLock { (gate, delay + delayPerChunk * Double(chunks.count)) }
        if let wait {
            wait.wait()
            wait.signal()
        }
        if pause > 0 { usleep(UInt32(pause * 1e6)) }
        let fail = lock.withLock { () -> Bool in
            batches.append(chunks.count)
            guard failuresLeft > 0 else { return false }
            failuresLeft -= 1
            return true
        }
        if fail { throw .backend("stub engine told to fail") }
        let D = config.embedDim, F = config.freqPatches
        var starts: [Int] = [], rows = 0
        for c in chunks {
            starts.append(rows)
            rows += 1 + F * c.timePatches
        }
        if output.count < rows * D { output = FloatBuffer(count: rows * D) }
        for i in 0..<(rows * D) { output.pointer[i] = 0.25 }
        return EncoderOutput(tokens: Tensor(base: output.pointer, shape: [rows, D]), rowStarts: starts)
    }
}

extension TestServer {
    /// A server whose encoder is `engine`, configured by `configure`.
    static func with<R>(
        engine: StubEngine, configure: (inout ServerConfig) -> Void = { _ in }, _ body: (TestServer) throws -> R
    ) throws -> R {
        try with(configure: configure, loader: StubEngine.loader(engine), body)
    }
}
