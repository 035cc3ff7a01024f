// The fused encoder (GEMMEngine.fused, m2d_dnnl.h) against the unfused one and against exact references:
// its products in fp32 (relative 1e-5 of a Double reference) and int8 (bit for bit the exact integer
// reference of the same scheme) at 1, 191, 193, 256 (whole tiles: run in place) and 1,528 rows on one thread
// and on two, and bf16 within its rounding where the CPU has it; a block against the unfused block; and batch invariance: a chunk's tokens
// are the same bits alone, batched with others of other lengths, and on one thread or two, at every precision.
import CKernels
import Foundation
import M2DModel
import M2DOps
import M2DTensor
import Testing
import TestSupport

@Suite(.serialized) struct FusedEncoderTests {
    static func engine(_ precision: GEMMEngine.Precision, threads: Int) throws -> GEMMEngine {
        let engine = try GEMMEngine(backend: .onednn, precision: precision, ownsWeights: true, fusedThreads: threads)
        #expect(engine.fused != nil, "the fused encoder did not open on this machine: \(engine.summary)")
        return engine
    }

    /// The rows a reference is computed for: every row of a short product; the edges of tiles (32 rows),
    /// slices' neighbours and the last rows of a long one (a reference of every row would take minutes).
    static func checkedRows(_ M: Int) -> [Int] {
        M <= 200 ? Array(0..<M) : [0, 1, 31, 32, 33, 190, 191, 192, 700, M - 33, M - 32, M - 2, M - 1].filter { $0 < M }
    }

    @Test(arguments: [1, 2, 5])
    func fp32ProductsMatchTheReference(threads: Int) throws {
        let engine = try Self.engine(.fp32, threads: threads)
        let K = 768, N = 500  // N not a multiple of the slices: the last is partial
        var rng = Rng(seed: 41)
        let w = (0..<(N * K)).map { _ in rng.normal() * 0.05 }, bias = (0..<N).map { _ in rng.normal() }
        // The engine owns the weight it is given (it releases the original's pages once packed).
        let weight = FloatBuffer(w)
        for (M, accumulate) in [(1, false), (191, true), (193, false), (256, true), (1528, true)] {
            let x = (0..<(M * K)).map { _ in rng.normal() }, y0 = (0..<(M * N)).map { _ in rng.normal() }
            var y = y0
            _ = engine.linear(
                out: &y, input: x, weight: weight.pointer, bias: bias, M: M, C: K, OC: N, accumulate: accumulate)
            #expect(engine.takeFailure() == nil)
            var got: [Float] = [], expected: [Float] = []
            for m in Self.checkedRows(M) {
                for n in 0..<N {
                    var acc = Double(bias[n]) + (accumulate ? Double(y0[m * N + n]) : 0)
                    for k in 0..<K { acc += Double(x[m * K + k]) * Double(w[n * K + k]) }
                    expected.append(Float(acc))
                    got.append(y[m * N + n])
                }
            }
            let cmp = Numerics.compare("fused fp32 M=\(M) threads=\(threads)", got, expected, atol: 1e-4, rtol: 1e-5)
            #expect(cmp.violations == 0, "\(cmp)")
        }
    }

    @Test(arguments: [1, 2, 5])
    func int8ProductsEqualTheExactIntegerReference(threads: Int) throws {
        let engine = try Self.engine(.int8, threads: threads)
        let (limit, levels) = try #require(engine.int8Ranges)
        let K = 768, N = 500
        var rng = Rng(seed: 43)
        let w = (0..<(N * K)).map { _ in rng.normal() * 0.05 }, bias = (0..<N).map { _ in rng.normal() }
        var qw = [Int8](repeating: 0, count: N * K), ws = [Float](repeating: 0, count: N)
        var wsum = [Int32](repeating: 0, count: N)
        m2d_quantize_weights(w, Int64(N), Int64(K), Int32(limit), &qw, &ws, &wsum)
        let weight = FloatBuffer(w)
        for (M, accumulate) in [(1, false), (191, true), (193, false), (256, true), (1528, true)] {
            let x = (0..<(M * K)).map { _ in rng.normal() }, y0 = (0..<(M * N)).map { _ in rng.normal() }
            var y = y0
            _ = engine.linear(
                out: &y, input: x, weight: weight.pointer, bias: bias, M: M, C: K, OC: N, accumulate: accumulate)
            #expect(engine.takeFailure() == nil)
            var q = [UInt8](repeating: 0, count: M * K), scale = [Float](repeating: 0, count: M)
            var zero = [Int32](repeating: 0, count: M)
            m2d_quantize_rows(x, Int64(K), 0, Int64(M), Int32(levels), &q, &scale, &zero)
            var mismatches = 0
            for m in Self.checkedRows(M) {
                for n in 0..<N {
                    var acc: Int32 = 0
                    for k in 0..<K { acc &+= Int32(q[m * K + k]) * Int32(qw[n * K + k]) }
                    let v = scale[m] * ws[n] * Float(acc - zero[m] * wsum[n]) + bias[n]
                    let expected = accumulate ? y0[m * N + n] + v : v
                    if y[m * N + n] != expected { mismatches += 1 }
                }
            }
            #expect(mismatches == 0, "fused int8 M=\(M) threads=\(threads): \(mismatches) of \(M * N) differ")
        }
    }

    /// One ViT-Base block on 191 + 191 rows (two chunks), fused against the unfused block on OpenBLAS.
    @Test func aFusedBlockMatchesTheUnfusedBlock() throws {
        let config = ModelConfig(name: "block-80x608p16x16", embedDim: 768, depth: 1, numHeads: 12)
        let engine = try Self.engine(.fp32, threads: 2)
        // The same random weights twice: an engine that owns its weights must be their only encoder.
        let weights = EncoderWeights.random(config: config, seed: 5),
            twin = EncoderWeights.random(config: config, seed: 5)
        var rng = Rng(seed: 6)
        let input = FloatBuffer(count: 2 * 80 * 608)
        for i in 0..<input.count { input.pointer[i] = rng.normal() }
        let chunks = (0..<2).map { EncoderChunk(base: input.pointer + $0 * 80 * 608, rowStride: 608, timePatches: 38) }
        // The tokens are a view of the encoder's workspace: each encoder must live until they are copied.
        let plain = ViTEncoder(weights: twin, engine: GEMMEngine()),
            quick = ViTEncoder(weights: weights, engine: engine)
        let unfused = withExtendedLifetime(plain) { plain.forward(chunks, timePatches: 38).toArray() }
        let fused = withExtendedLifetime(quick) { quick.forward(chunks, timePatches: 38).toArray() }
        #expect(engine.takeFailure() == nil)
        let cmp = Numerics.compare("fused block", fused, unfused, atol: 1e-5, rtol: 1e-5)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    /// bf16 (AVX-512 BF16 only): products on bf16 copies of the inputs and weights, accumulated in fp32, within
    /// bf16's rounding of the Double reference (relative 2^-8 per input, so 1e-2 of the largest term).
    @Test func bf16ProductsMatchTheReferenceWhereTheCPUHasBF16() throws {
        guard GEMMEngine.oneDNNSupports(.bf16) else { return }
        let engine = try Self.engine(.bf16, threads: 2)
        let K = 768, N = 500, M = 193
        var rng = Rng(seed: 47)
        let w = (0..<(N * K)).map { _ in rng.normal() * 0.05 }, bias = (0..<N).map { _ in rng.normal() }
        let weight = FloatBuffer(w)
        let x = (0..<(M * K)).map { _ in rng.normal() }
        var y = [Float](repeating: 0, count: M * N)
        _ = engine.linear(out: &y, input: x, weight: weight.pointer, bias: bias, M: M, C: K, OC: N, accumulate: false)
        #expect(engine.takeFailure() == nil)
        var expected = [Float](repeating: 0, count: M * N)
        for m in 0..<M {
            for n in 0..<N {
                var acc = Double(bias[n])
                for k in 0..<K { acc += Double(x[m * K + k]) * Double(w[n * K + k]) }
                expected[m * N + n] = Float(acc)
            }
        }
        let cmp = Numerics.compare("fused bf16", y, expected, atol: 2e-2, rtol: 1e-2)
        #expect(cmp.violations == 0 && cmp.cosine > 0.9999, "\(cmp)")
    }

    /// The golden 768-d model: chunk A's tokens alone, then batched after chunks of other lengths, then on one
    /// thread and on five instead of two: the same bits every time.
    @Test(arguments: [GEMMEngine.Precision.fp32, .int8, .bf16])
    func aChunksTokensDoNotDependOnItsBatchOrTheThreads(precision: GEMMEngine.Precision) throws {
        guard GEMMEngine.oneDNNSupports(precision) else { return }
        let dir = Fixtures.golden + "/wide_608/model"
        var rng = Rng(seed: 12)
        let mel = FloatBuffer(count: 4 * 80 * 608)
        for i in 0..<mel.count { mel.pointer[i] = rng.normal() }
        func chunk(_ i: Int, _ Tp: Int) -> EncoderChunk {
            EncoderChunk(base: mel.pointer + i * 80 * 608, rowStride: 608, timePatches: Tp)
        }
        let batches: [[EncoderChunk]] = [
            [chunk(0, 38)], [chunk(1, 5), chunk(0, 38)], [chunk(2, 20), chunk(3, 38), chunk(1, 1), chunk(0, 38)],
        ]
        var seen: [[Float]] = []
        for threads in [2, 1, 5] {
            let engine = try Self.engine(precision, threads: threads)
            let model = try ModelDirectory.load(dir, engine: engine)
            let encoder = ViTEncoder(weights: model.weights, engine: engine)
            let N = encoder.tokenCount(timePatches: 38), D = model.config.embedDim
            for batch in batches {
                let out = encoder.forward(batch)
                let start = out.rowStarts.last!
                seen.append(Array(UnsafeBufferPointer(start: out.tokens.base + start * D, count: N * D)))
            }
            #expect(engine.takeFailure() == nil)
        }
        for (i, tokens) in seen.enumerated().dropFirst() {
            let same = tokens.withUnsafeBytes { a in seen[0].withUnsafeBytes { b in a.elementsEqual(b) } }
            let worst = zip(tokens, seen[0]).map { abs($0 - $1) }.max()!
            #expect(same, "run \(i) of chunk A differs from the first (max diff \(worst))")
        }
    }
}
