// GEMMEngine: which library runs the Linear-layer GEMMs and in what precision. OpenBLAS is the
// portable backend (everywhere, fp32); oneDNN (loaded at run time) is the fast one: inference weights
// packed once for its GEMM (or, without that, reordered once for its shape-cached matmul primitives),
// and for training, whose weights change every step, products on the weights in place. One engine belongs to one
// encoder or trainer (one thread at a time); attention's per-head products go through `batchedGemm`.
import CDNNL
import CKernels
import Foundation

public enum GEMMEngineError: Error, CustomStringConvertible, Equatable {
    case unavailable(String)
    case unsupported(String)

    public var description: String {
        switch self {
        case let .unavailable(reason): "oneDNN backend unavailable: \(reason); use --backend openblas"
        case let .unsupported(reason): reason
        }
    }
}

public final class GEMMEngine: @unchecked Sendable {
    // SAFETY: the oneDNN context (primitive and weight caches) is used by the one thread that owns
    // the encoder; OpenBLAS engines hold no state.
    public enum Backend: String, CaseIterable, Sendable { case auto, onednn, openblas }
    public enum Precision: String, CaseIterable, Sendable {
        case fp32, bf16, int8

        var dnnlCode: Int32 {
            switch self {
            case .fp32: Int32(M2D_DNNL_FP32)
            case .bf16: Int32(M2D_DNNL_BF16)
            case .int8: Int32(M2D_DNNL_INT8)
            }
        }
    }

    /// The resolved backend (never `.auto`).
    public let backend: Backend
    public let precision: Precision
    /// Weights change between calls (training): no reordered copies, every product on plain memory.
    public let weightsChange: Bool
    /// This engine is the only reader of the Linear weights it is given: after reordering one, the
    /// original's pages go back to the system (they then read as zeros), so one copy stays resident.
    public let ownsWeights: Bool
    private let dnnl: OpaquePointer?
    /// The fused encoder (m2d_dnnl.h: one thread team, oneDNN's packed GEMM per thread on tiles, everything
    /// around the products fused), when this is an inference engine that can run it; the encoder then
    /// runs through `FusedEncoder` instead of `linear` and `batchedGemm`.
    public let fused: OpaquePointer?
    /// The first oneDNN failure since the last `takeFailure` (a run-time error, not a shape bug).
    private var failure: String?
    /// int8: the quantized activations and integer products of the current Linear (grown, reused).
    private var quantized: Int8Scratch?

    /// The stateless OpenBLAS engine that ops use when given none.
    public static let openBLAS = GEMMEngine()

    /// OpenBLAS, fp32.
    public init() {
        backend = .openblas
        precision = .fp32
        weightsChange = false
        ownsWeights = false
        dnnl = nil
        fused = nil
    }

    /// `.auto` picks oneDNN when libdnnl loads, else OpenBLAS (fp32 only). `weightsChange` is for
    /// training: oneDNN then never caches a reordered weight (fp32 only).
    ///
    /// `ownsWeights` (oneDNN inference only; ignored on OpenBLAS) frees each original weight once
    /// oneDNN holds its copy: for a process whose one encoder is the weights' only user (m2d-server,
    /// m2d-embed). `ViTEncoder` refuses to share such weights with any other engine.
    ///
    /// `packedWeights: false` runs the Linear layers through oneDNN's matmul primitive even where its
    /// packed GEMM is there (weights packed once; the default, see m2d_dnnl_packed), to compare the two.
    ///
    /// An engine that owns its weights (inference) opens the fused encoder where it runs (fp32 and int8 on
    /// oneDNN's packed GEMM, AVX2 and FMA), with `fusedThreads` threads (default BLAS.threads).
    /// M2D_FUSED=0 in the environment turns it off, to compare the two.
    public init(
        backend requested: Backend, precision: Precision = .fp32, weightsChange: Bool = false,
        ownsWeights: Bool = false, packedWeights: Bool = true, fusedThreads: Int? = nil
    ) throws(GEMMEngineError) {
        self.precision = precision
        self.weightsChange = weightsChange
        if weightsChange && precision != .fp32 {
            throw .unsupported("training runs in fp32 (--precision \(precision) is for inference)")
        }
        if requested == .openblas {
            if precision != .fp32 {
                throw .unsupported("--precision \(precision) needs the oneDNN backend (--backend onednn)")
            }
            backend = .openblas
            self.ownsWeights = false
            dnnl = nil
            fused = nil
            return
        }
        var error = [CChar](repeating: 0, count: 256)
        let ctx = m2d_dnnl_open(precision.dnnlCode, &error, error.count)
        if let ctx {
            backend = .onednn
            self.ownsWeights = ownsWeights && !weightsChange
            if self.ownsWeights { m2d_dnnl_release_sources(ctx, 1) }
            if !packedWeights { m2d_dnnl_run_unpacked(ctx) }
            dnnl = ctx
            let wanted = self.ownsWeights && packedWeights && ProcessInfo.processInfo.environment["M2D_FUSED"] != "0"
            fused = wanted ? m2d_fused_open(ctx, Int32(fusedThreads ?? BLAS.threads), &error, error.count) : nil
            if let ranges = int8Ranges { quantized = Int8Scratch(activationLevels: ranges.activationLevels) }
            return
        }
        let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if precision != .fp32, reason.contains("matmul for this CPU") { throw .unsupported(reason) }
        if requested == .onednn || precision != .fp32 { throw .unavailable(reason) }
        backend = .openblas
        self.ownsWeights = false
        dnnl = nil
        fused = nil
    }

    deinit {
        if let fused { m2d_fused_close(fused) }
        if let dnnl { m2d_dnnl_close(dnnl) }
    }

    /// Whether oneDNN runs `precision` on this machine (oneDNN 2.6 has bf16 only with AVX-512).
    public static func oneDNNSupports(_ precision: Precision) -> Bool {
        (try? GEMMEngine(backend: .onednn, precision: precision)) != nil
    }

    /// out (M,OC) = input (M,C) . weight (OC,C)^T + bias (+ out when accumulating). `weight` must
    /// stay at the same address and unchanged while this engine lives (oneDNN caches a reordered copy).
    @inline(__always)
    public func linear(
        out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, M: Int, C: Int, OC: Int, accumulate: Bool
    ) -> Bool {
        guard let dnnl, !weightsChange else { return false }
        if let fused {
            let rc = m2d_fused_product(
                fused, weight, Int64(OC), Int64(C), input, Int64(M), bias, out, accumulate ? 1 : 0)
            if rc != 0 { record("the fused product failed (code \(rc)) for M=\(M) K=\(C) N=\(OC)") }
            return true
        }
        if let quantized {
            let rc = quantized.linear(
                dnnl, out: out, input: input, weight: weight, bias: bias, M: M, C: C, OC: OC, accumulate: accumulate)
            if rc != 0 { record("oneDNN int8 matmul failed (code \(rc)) for M=\(M) K=\(C) N=\(OC)") }
            return true
        }
        let rc = m2d_dnnl_linear(dnnl, input, Int64(M), Int64(C), weight, Int64(OC), bias, out, accumulate ? 1 : 0)
        if rc != 0 { record("oneDNN matmul failed (code \(rc)) for M=\(M) K=\(C) N=\(OC)") }
        return true
    }

    /// Takes `weight` (OC,C) over now when this engine owns its weights (oneDNN inference): makes
    /// the reordered copy, in the layout a product of `rows` rows prefers, and releases the
    /// original's pages, so a loader holds one original at a time. No-op otherwise.
    public func prepareLinear(weight: UnsafePointer<Float>, C: Int, OC: Int, rows: Int) {
        guard let dnnl, ownsWeights else { return }
        let rc =
            fused.map { m2d_fused_prepare($0, weight, Int64(OC), Int64(C)) }
            ?? m2d_dnnl_prepare_linear(dnnl, weight, Int64(OC), Int64(C), Int64(rows))
        if rc != 0 { record("oneDNN could not prepare a weight (code \(rc)) for K=\(C) N=\(OC)") }
    }

    /// C (M,N) = alpha * op(A) (M,K) . op(B) (K,N) + beta * C, row-major (see `BLAS.gemm`): oneDNN on
    /// the operands as they are in memory, or OpenBLAS.
    @inline(__always)
    public func gemm(
        transA: Transpose = .none, transB: Transpose = .none, M: Int, N: Int, K: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard let dnnl else {
            BLAS.gemm(
                transA: transA, transB: transB, M: M, N: N, K: K, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc)
            return
        }
        precondition(
            M >= 0 && N >= 0 && K >= 0 && lda >= max(1, transA == .none ? K : M)
                && ldb >= max(1, transB == .none ? N : K)
                && ldc >= max(1, N), "gemm: bad dimensions M=\(M) N=\(N) K=\(K) lda=\(lda) ldb=\(ldb) ldc=\(ldc)")
        let rc = m2d_dnnl_gemm(
            dnnl, transA == .none ? 0 : 1, transB == .none ? 0 : 1, Int64(M), Int64(N), Int64(K), alpha,
            a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc))
        if rc != 0 { record("oneDNN gemm failed (code \(rc)) for M=\(M) N=\(N) K=\(K)") }
    }

    /// For every b < batch: C_b (M,N) = alpha * A_b (M,K) . B_b (K,N) + beta * C_b, each operand
    /// addressed by (batch, row, column) strides in floats. One oneDNN call for the whole batch, or
    /// one OpenBLAS call per item (each operand then needs a unit row or column stride).
    public func batchedGemm(
        batch: Int, M: Int, N: Int, K: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, aStrides: (batch: Int, row: Int, column: Int),
        b: UnsafePointer<Float>, bStrides: (batch: Int, row: Int, column: Int),
        beta: Float = 0, c: UnsafeMutablePointer<Float>, cStrides: (batch: Int, row: Int, column: Int)
    ) {
        if let dnnl {
            var sa = (Int64(aStrides.batch), Int64(aStrides.row), Int64(aStrides.column))
            var sb = (Int64(bStrides.batch), Int64(bStrides.row), Int64(bStrides.column))
            var sc = (Int64(cStrides.batch), Int64(cStrides.row), Int64(cStrides.column))
            let rc = withUnsafePointer(to: &sa) { pa in
                withUnsafePointer(to: &sb) { pb in
                    withUnsafePointer(to: &sc) { pc in
                        pa.withMemoryRebound(to: Int64.self, capacity: 3) { pa in
                            pb.withMemoryRebound(to: Int64.self, capacity: 3) { pb in
                                pc.withMemoryRebound(to: Int64.self, capacity: 3) { pc in
                                    m2d_dnnl_batched_gemm(
                                        dnnl, Int64(batch), Int64(M), Int64(N), Int64(K), alpha, a, pa, b, pb, beta, c,
                                        pc)
                                }
                            }
                        }
                    }
                }
            }
            if rc != 0 { record("oneDNN batched gemm failed (code \(rc)) for batch=\(batch) M=\(M) N=\(N) K=\(K)") }
            return
        }
        precondition(cStrides.column == 1, "batchedGemm on OpenBLAS needs C with unit column stride")
        func operand(_ s: (batch: Int, row: Int, column: Int)) -> (Transpose, Int) {
            precondition(s.column == 1 || s.row == 1, "batchedGemm on OpenBLAS needs a unit row or column stride")
            return s.column == 1 ? (.none, s.row) : (.transposed, s.column)
        }
        let (ta, lda) = operand(aStrides), (tb, ldb) = operand(bStrides)
        for i in 0..<batch {
            BLAS.gemm(
                transA: ta, transB: tb, M: M, N: N, K: K, alpha: alpha, a: a + i * aStrides.batch, lda: lda,
                b: b + i * bStrides.batch, ldb: ldb, beta: beta, c: c + i * cStrides.batch, ldc: cStrides.row)
        }
    }

    private func record(_ message: String) { if failure == nil { failure = message } }

    /// Threads the encoder computes on: the fused encoder's team, else OpenBLAS's.
    public var computeThreads: Int { fused.map { Int(m2d_fused_threads($0)) } ?? BLAS.threads }

    /// With the fused encoder, nothing of the encoder runs on OpenBLAS: the front end's products are all
    /// that do, one clip per thread (m2d-server's preprocessing queue is as wide as the cores), so its
    /// threads go down to one. Called once, before any decoding: OpenBLAS's thread count is global.
    /// OpenBLAS's sums depend on its thread count (0.3.21 on Zen 4: one thread and two differ in the last bits
    /// from 7 frames a block), so a library caller that wants m2d-server's bits calls this too.
    public func leaveOpenBLASToTheFrontEnd() {
        if fused != nil { BLAS.threads = 1 }
    }

    /// The fused encoder's time per kind of step since the last reset (both threads' wall time), or [].
    public func fusedProfile(reset: Bool) -> [(name: String, seconds: Double)] {
        guard let fused else { return [] }
        var names = [UnsafePointer<CChar>?](repeating: nil, count: 16), seconds = [Double](repeating: 0, count: 16)
        let n = Int(m2d_fused_profile(fused, &names, &seconds, 16, reset ? 1 : 0))
        return (0..<n).map { (String(cString: names[$0]!), seconds[$0]) }
    }

    /// Rows a caller should pad its products to: the fused encoder's tile (whole tiles run in place), else 1.
    public var rowMultiple: Int { fused != nil ? Int(M2D_FUSED_TILE) : 1 }

    /// Records a failure of a product run outside `linear` (the fused encoder), for `takeFailure`.
    public func recordFailure(_ message: String) { record(message) }

    /// The first oneDNN failure since the last call, cleared by reading it. Products after a failure
    /// still run, so callers check once per forward and discard that forward's results.
    public func takeFailure() -> String? {
        defer { failure = nil }
        return failure
    }

    /// e.g. "onednn 2.6.3 brg:avx512_core bf16", "onednn 2.6.3 gemm:jit packed int8 (weights 7-bit: no
    /// VNNI)" or "openblas SkylakeX fp32". "packed": the Linear weights are packed once for oneDNN's GEMM.
    public var summary: String {
        guard let dnnl else { return "openblas \(BLAS.coreName) fp32" }
        let packed =
            fused.map { " packed, fused over \(m2d_fused_threads($0)) threads" }
            ?? (m2d_dnnl_packed(dnnl) != 0 ? " packed" : "")
        let base =
            "onednn \(String(cString: m2d_dnnl_version(dnnl))) \(String(cString: m2d_dnnl_impl(dnnl)))\(packed) "
            + precision.rawValue
        guard let ranges = int8Ranges, ranges.weightLimit < 127 else { return base }
        return base + " (weights 7-bit: no VNNI)"
    }

    /// int8: weights are quantized to -limit...limit, activations to 0...levels. The limit is 127, or
    /// 63 where this CPU's int8 kernel would saturate a pair of full-range products (no VNNI).
    public var int8Ranges: (weightLimit: Int, activationLevels: Int)? {
        guard let dnnl, precision == .int8 else { return nil }
        var limit: Int32 = 0, levels: Int32 = 0
        m2d_dnnl_int8_ranges(dnnl, &limit, &levels)
        return (Int(limit), Int(levels))
    }

    /// Bytes of weights oneDNN holds in its own layout.
    public var reorderedWeightBytes: Int { dnnl.map { Int(m2d_dnnl_weight_bytes($0)) } ?? 0 }
}
