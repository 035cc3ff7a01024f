// oneDNN's inference Linear, on weights packed once for its GEMM and through the matmul primitive, against
// a Double reference: with and without bias and accumulation, at row counts below, at and above the
// 256 rows the packing is split for, all from one copy of each weight.
import M2DTensor
import Testing
import TestSupport

@Suite struct LinearEngineTests {
    /// y (M,N) = x (M,K) . W^T + bias (+ y0), in Double.
    static func reference(
        x: [Float], w: [Float], bias: [Float]?, y0: [Float]?, M: Int, K: Int, N: Int
    ) -> [Float] {
        (0..<(M * N)).map { i in
            let m = i / N, n = i % N
            var acc = Double(bias?[n] ?? 0) + Double(y0?[i] ?? 0)
            for k in 0..<K { acc += Double(x[m * K + k]) * Double(w[n * K + k]) }
            return Float(acc)
        }
    }

    @Test(arguments: [true, false], [(false, false), (true, false), (false, true), (true, true)])
    func linearMatchesTheReference(packed: Bool, options: (bias: Bool, accumulate: Bool)) throws {
        let engine = try GEMMEngine(backend: .onednn, packedWeights: packed)
        // Debian's libdnnl 2.6.3 exports the packed GEMM; a build without it would be a lost fast path.
        #expect(engine.summary.contains(" packed ") == packed, "\(engine.summary)")
        let K = 95, N = 41
        var rng = Rng(seed: 21)
        let w = (0..<(N * K)).map { _ in rng.normal() * 0.1 }
        let bias = options.bias ? (0..<N).map { _ in rng.normal() } : nil
        for M in [1, 37, 256, 300, 700] {
            let x = (0..<(M * K)).map { _ in rng.normal() }, y0 = (0..<(M * N)).map { _ in rng.normal() }
            var y = y0
            _ = engine.linear(
                out: &y, input: x, weight: w, bias: bias, M: M, C: K, OC: N, accumulate: options.accumulate)
            #expect(engine.takeFailure() == nil)
            let expected = Self.reference(
                x: x, w: w, bias: bias, y0: options.accumulate ? y0 : nil, M: M, K: K, N: N)
            let cmp = Numerics.compare("linear M=\(M)", y, expected, atol: 1e-5, rtol: 1e-5)
            #expect(cmp.violations == 0, "\(cmp)")
        }
    }

    /// The loader's path: a weight handed over for a batch's rows (its pages then released), then
    /// products with one chunk's rows and more.
    @Test(arguments: [true, false])
    func preparedWeightServesEveryRowCount(packed: Bool) throws {
        let engine = try GEMMEngine(backend: .onednn, ownsWeights: true, packedWeights: packed)
        let K = 768, N = 96
        var rng = Rng(seed: 22)
        let original = (0..<(N * K)).map { _ in rng.normal() * 0.05 }
        let weight = FloatBuffer(count: N * K)
        for i in 0..<weight.count { weight.pointer[i] = original[i] }
        engine.prepareLinear(weight: weight.pointer, C: K, OC: N, rows: 3056)
        #expect(engine.takeFailure() == nil)
        #expect(engine.reorderedWeightBytes >= N * K * 4)
        for M in [191, 382] {
            let x = (0..<(M * K)).map { _ in rng.normal() }
            var y = [Float](repeating: 0, count: M * N)
            _ = engine.linear(
                out: &y, input: x, weight: weight.pointer, bias: nil, M: M, C: K, OC: N, accumulate: false)
            #expect(engine.takeFailure() == nil)
            let expected = Self.reference(x: x, w: original, bias: nil, y0: nil, M: M, K: K, N: N)
            let cmp = Numerics.compare("prepared linear M=\(M)", y, expected, atol: 1e-4, rtol: 1e-5)
            #expect(cmp.violations == 0, "\(cmp)")
        }
    }
}
