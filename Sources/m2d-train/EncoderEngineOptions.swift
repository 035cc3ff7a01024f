// --backend and --precision for the commands that embed audio with a model (probe, eval, ablate's
// evaluation), as m2d-embed and m2d-server take them.
import ArgumentParser
import M2DTensor

struct EncoderEngineOptions: ParsableArguments {
    @Option(help: "GEMM backend for the encoder: auto (oneDNN when libdnnl loads), onednn or openblas.")
    var backend: GEMMEngine.Backend = .auto
    @Option(help: "Encoder precision: fp32, bf16 or int8 (bf16 and int8 need onednn; embeddings cached per precision).")
    var precision: GEMMEngine.Precision = .fp32

    func engine() throws -> GEMMEngine {
        do { return try GEMMEngine(backend: backend, precision: precision) } catch { throw ValidationError("\(error)") }
    }
}

extension GEMMEngine.Precision: ExpressibleByArgument {}
