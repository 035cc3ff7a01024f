// The int8 Linear (docs/INT8.md): the quantizers against their formulas, the whole product against
// an exact integer reference of the same scheme, and its distance from the fp32 product.
import CDNNL
import CKernels
import M2DTensor
import Testing

@Suite struct Int8LinearTests {
    @Test func rowsQuantizeByTheFormula() {
        let K = 33
        var rng = Rng(seed: 3)
        var x = (0..<(4 * K)).map { _ in rng.normal() * 3 }
        for k in 0..<K { x[K + k] = 0 }  // an all-zero row
        for k in 0..<K { x[2 * K + k] = abs(x[2 * K + k]) + 1 }  // all positive: 0 must stay representable
        var q = [UInt8](repeating: 0, count: x.count), scale = [Float](repeating: 0, count: 4)
        var zero = [Int32](repeating: 0, count: 4)
        m2d_quantize_rows(x, Int64(K), 0, 4, 255, &q, &scale, &zero)
        for m in 0..<4 {
            let row = x[(m * K)..<((m + 1) * K)]
            let lo = min(0, row.min()!), hi = max(0, row.max()!)
            let s: Float = hi > lo ? (hi - lo) / 255 : 1
            #expect(scale[m] == s)
            #expect(zero[m] == Int32((-lo / s).rounded(.toNearestOrEven)))
            for k in 0..<K {
                // The C rounds half up after clamping; where v sits on a half step, the compiler's fused
                // multiply-add may tip it either way, so only those may differ, by one.
                let v = min(255, max(0, x[m * K + k] * (1 / s) + Float(zero[m])))
                let expected = (v + 0.5).rounded(.down)
                let onHalfStep = abs(v - v.rounded(.down) - 0.5) < 1e-3
                #expect(Float(q[m * K + k]) == expected || (onHalfStep && abs(Float(q[m * K + k]) - expected) == 1),
                        "row \(m) col \(k): \(q[m * K + k]) for \(v)")
                // Dequantized, every value is within half a step (a step where clamping or ties move it).
                #expect(abs((Float(q[m * K + k]) - Float(zero[m])) * s - x[m * K + k]) <= s * 0.5001 + 1e-6)
            }
        }
        #expect(q[K..<(2 * K)].allSatisfy { Int32($0) == zero[1] })
    }

    @Test func weightsQuantizeSymmetricallyPerChannel() {
        let N = 5, K = 17
        var rng = Rng(seed: 4)
        var w = (0..<(N * K)).map { _ in rng.normal() }
        for k in 0..<K { w[3 * K + k] = 0 }
        var q = [Int8](repeating: 0, count: N * K), scale = [Float](repeating: 0, count: N)
        var sum = [Int32](repeating: 0, count: N)
        m2d_quantize_weights(w, Int64(N), Int64(K), 63, &q, &scale, &sum)
        for n in 0..<N {
            let amax = w[(n * K)..<((n + 1) * K)].map(abs).max()!
            #expect(scale[n] == (amax > 0 ? amax / 63 : 1))
            #expect(q[(n * K)..<((n + 1) * K)].allSatisfy { abs(Int($0)) <= 63 })
            #expect(sum[n] == q[(n * K)..<((n + 1) * K)].reduce(Int32(0)) { $0 + Int32($1) })
            if amax > 0 { #expect(q[(n * K)..<((n + 1) * K)].map { abs(Int($0)) }.max() == 63) }
        }
    }

    /// The engine's product equals the scheme computed here in exact integers, with bias and
    /// with accumulation, at shapes whose K and N are not multiples of any kernel block, on weights
    /// packed once and through the matmul primitive. One engine meets a short product first and then
    /// a full tile and more than a tile (a copy made for the first product's rows must serve them all).
    @Test(arguments: [false, true], [true, false])
    func productEqualsTheIntegerReference(accumulate: Bool, packed: Bool) throws {
        let engine = try GEMMEngine(backend: .onednn, precision: .int8, packedWeights: packed)
        #expect(engine.summary.contains(" packed ") == packed, "\(engine.summary)")
        let limit = try #require(engine.int8Ranges).weightLimit
        let K = 95, N = 41
        var rng = Rng(seed: 5)
        let w = (0..<(N * K)).map { _ in rng.normal() * 0.1 }, bias = (0..<N).map { _ in rng.normal() }
        var qw = [Int8](repeating: 0, count: N * K), sw = [Float](repeating: 0, count: N)
        var sumw = [Int32](repeating: 0, count: N)
        m2d_quantize_weights(w, Int64(N), Int64(K), Int32(limit), &qw, &sw, &sumw)
        for M in [37, 256, 300, 600] {
            let x = (0..<(M * K)).map { _ in rng.normal() }, y0 = (0..<(M * N)).map { _ in rng.normal() }
            var y = y0
            _ = engine.linear(out: &y, input: x, weight: w, bias: bias, M: M, C: K, OC: N, accumulate: accumulate)
            #expect(engine.takeFailure() == nil)

            var qx = [UInt8](repeating: 0, count: M * K), sx = [Float](repeating: 0, count: M)
            var zx = [Int32](repeating: 0, count: M)
            m2d_quantize_rows(x, Int64(K), 0, Int64(M), 255, &qx, &sx, &zx)
            var worst: Float = 0
            for m in 0..<M {
                for n in 0..<N {
                    var acc = 0
                    for k in 0..<K { acc += (Int(qx[m * K + k]) - Int(zx[m])) * Int(qw[n * K + k]) }
                    let expected = sx[m] * sw[n] * Float(acc) + bias[n] + (accumulate ? y0[m * N + n] : 0)
                    worst = max(worst, abs(y[m * N + n] - expected) / max(1, abs(expected)))
                }
            }
            #expect(worst < 1e-5, "int8 product (M=\(M)) vs the integer reference: worst relative difference \(worst)")
        }
    }

    /// On a ViT-Base-sized product of Gaussian data, int8 stays close to fp32.
    @Test func productIsCloseToFP32() throws {
        let engine = try GEMMEngine(backend: .onednn, precision: .int8)
        let M = 64, K = 768, N = 256
        var rng = Rng(seed: 6)
        let x = (0..<(M * K)).map { _ in rng.normal() }, w = (0..<(N * K)).map { _ in rng.normal() * 0.03 }
        var y = [Float](repeating: 0, count: M * N), reference = y
        _ = engine.linear(out: &y, input: x, weight: w, bias: nil, M: M, C: K, OC: N, accumulate: false)
        BLAS.gemm(
            transA: .none, transB: .transposed, M: M, N: N, K: K, a: x, lda: K, b: w, ldb: K, c: &reference, ldc: N)
        var dot = 0.0, yy = 0.0, rr = 0.0
        for i in 0..<y.count {
            dot += Double(y[i]) * Double(reference[i])
            yy += Double(y[i] * y[i])
            rr += Double(reference[i] * reference[i])
        }
        let cosine = dot / (yy * rr).squareRoot()
        #expect(cosine > 0.999 && cosine < 1, "int8 vs fp32 product cosine \(cosine)")
        #expect(engine.summary.contains("int8"))
        #expect(throws: GEMMEngineError.self) { try GEMMEngine(backend: .openblas, precision: .int8) }
        #expect(throws: GEMMEngineError.self) {
            try GEMMEngine(backend: .onednn, precision: .int8, weightsChange: true)
        }
    }
}
