// Int8Linear: the int8 Linear layer of inference (docs/INT8.md). Activations are quantized per row
// (token) on the fly, asymmetric to 0...255; weights are quantized once per output channel,
// symmetric; oneDNN multiplies the integers (u8 x s8 -> s32) and the rows are dequantized with the
// bias and the residual add in one pass. Quantizing and dequantizing split rows over BLAS.threads.
import CDNNL
import CKernels

/// The int8 path's per-call buffers, grown to the largest product seen and then reused.
final class Int8Scratch {
    private var q = UnsafeMutablePointer<UInt8>.allocate(capacity: 0)
    private var acc = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    private var scale = UnsafeMutablePointer<Float>.allocate(capacity: 0)
    private var zero = UnsafeMutablePointer<Int32>.allocate(capacity: 0)
    private var qCapacity = 0, accCapacity = 0, rowCapacity = 0
    /// Activations are quantized to 0...levels (the context's range, fixed when it opened).
    private let levels: Int32

    init(activationLevels: Int) { levels = Int32(activationLevels) }

    deinit {
        q.deallocate()
        acc.deallocate()
        scale.deallocate()
        zero.deallocate()
    }

    private func reserve(rows M: Int, K: Int, N: Int) {
        if M * K > qCapacity {
            q.deallocate()
            qCapacity = M * K
            q = .allocate(capacity: qCapacity)
        }
        if M * N > accCapacity {
            acc.deallocate()
            accCapacity = M * N
            acc = .allocate(capacity: accCapacity)
        }
        if M > rowCapacity {
            scale.deallocate()
            zero.deallocate()
            rowCapacity = M
            scale = .allocate(capacity: M)
            zero = .allocate(capacity: M)
        }
    }

    /// Rows per integer product: the s32 products of one tile stay in cache until they are
    /// dequantized (a whole batch's, 1,528 x 3,072 x 4 bytes for fc1 at 8 chunks, would not).
    static let tileRows = Int(M2D_DNNL_INT8_TILE_ROWS)

    /// out (M,OC) = dequant(quant(input) (M,C) . quant(weight) (OC,C)^T) + bias (+ out), one tile of
    /// rows at a time. Returns oneDNN's code (0 on success).
    func linear(
        _ dnnl: OpaquePointer, out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, M: Int, C: Int, OC: Int, accumulate: Bool
    ) -> Int32 {
        guard M > 0, OC > 0 else { return 0 }
        let tile = min(M, Self.tileRows)
        reserve(rows: tile, K: C, N: OC)
        let q = q, acc = acc, scale = scale, zero = zero, levels = levels
        for first in stride(from: 0, to: M, by: tile) {
            let rows = min(tile, M - first)
            let x = input + first * C, y = out + first * OC
            Parallel.forRanges(rows, grain: max(1, 32_768 / max(1, C))) { r in
                m2d_quantize_rows(x, Int64(C), Int64(r.lowerBound), Int64(r.upperBound), levels, q, scale, zero)
            }
            var weightScale: UnsafePointer<Float>?, weightSum: UnsafePointer<Int32>?
            let rc = m2d_dnnl_linear_s8(
                dnnl, q, Int64(rows), Int64(C), weight, Int64(OC), acc, &weightScale, &weightSum)
            guard rc == 0, let weightScale, let weightSum else { return rc == 0 ? 7 : rc }
            Parallel.forRanges(rows, grain: max(1, 32_768 / OC)) { r in
                m2d_dequantize_rows(
                    acc, Int64(OC), Int64(r.lowerBound), Int64(r.upperBound), scale, zero, weightScale, weightSum,
                    bias, y, accumulate ? 1 : 0)
            }
        }
        return 0
    }
}
