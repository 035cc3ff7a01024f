// Linear: y = x W^T + b (torch.nn.Linear, W stored [out, in]).
import M2DTensor

public enum Linear {
    /// out (M,OC) = input (M,C) . weight(OC,C)^T + bias (OC). With `accumulate`, adds into out
    /// instead (used to fuse the residual add: x += proj(h)). `engine` picks oneDNN or OpenBLAS.
    public static func forward(
        out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        M: Int, C: Int, OC: Int, accumulate: Bool = false, engine: GEMMEngine? = nil
    ) {
        if let engine,
            engine.linear(
                out: out, input: input, weight: weight, bias: bias, M: M, C: C, OC: OC, accumulate: accumulate)
        {
            return
        }
        (engine ?? .openBLAS).gemm(
            transB: .transposed, M: M, N: OC, K: C, a: input, lda: C, b: weight, ldb: C,
            beta: accumulate ? 1 : 0, c: out, ldc: OC)
        guard let bias else { return }
        Parallel.forRanges(M, grain: 64) { range in
            for m in range {
                let row = out + m * OC
                for o in 0..<OC { row[o] += bias[o] }
            }
        }
    }

    /// The same product with plain loops in Double: the correctness reference for `forward`.
    public static func forwardNaive(
        out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, M: Int, C: Int, OC: Int
    ) {
        for m in 0..<M {
            for o in 0..<OC {
                var acc = Double(bias?[o] ?? 0)
                for c in 0..<C { acc += Double(input[m * C + c]) * Double(weight[o * C + c]) }
                out[m * OC + o] = Float(acc)
            }
        }
    }
}

extension Linear {
    /// Backward of `forward` (accumulates, llm.c style): given dOut (M,OC),
    /// dWeight (OC,C) += dOut^T . input, dBias (OC) += column sums of dOut, dInput (M,C) += dOut . weight.
    /// Any of dInput/dWeight/dBias may be nil when not needed.
    public static func backward(
        dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
        dBias: UnsafeMutablePointer<Float>?,
        dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, M: Int, C: Int, OC: Int,
        engine: GEMMEngine? = nil
    ) {
        let engine = engine ?? .openBLAS
        if let dWeight {
            engine.gemm(
                transA: .transposed, M: OC, N: C, K: M, a: dOut, lda: OC, b: input, ldb: C, beta: 1, c: dWeight, ldc: C)
        }
        if let dBias {
            for m in 0..<M {
                let row = dOut + m * OC
                for o in 0..<OC { dBias[o] += row[o] }
            }
        }
        if let dInput {
            engine.gemm(M: M, N: C, K: OC, a: dOut, lda: OC, b: weight, ldb: C, beta: 1, c: dInput, ldc: C)
        }
    }
}
