// The gemm wrapper against a naive Double product, over every transpose and padded leading dims.
import Foundation
import M2DTensor
import Testing
import TestSupport

@Suite struct BLASTests {
    /// OpenBLAS directly, and the training engine's oneDNN path (plain strided memory), with and
    /// without alpha and beta.
    @Test(
        arguments: [
            (Transpose.none, Transpose.none), (.transposed, .none), (.none, .transposed), (.transposed, .transposed),
        ],
        ["blas", "onednn", "onednn-plain"])
    func gemmMatchesNaive(transposes: (Transpose, Transpose), engine: String) throws {
        let (ta, tb) = transposes
        let onednn = engine == "blas" ? nil : try GEMMEngine(backend: .onednn, weightsChange: true)
        let (alpha, beta): (Float, Float) = engine == "onednn-plain" ? (1, 0) : (0.5, 2)
        let M = 7, N = 5, K = 9, pad = 3
        var rng = Rng(seed: 11)
        let aRows = ta == .none ? M : K, aCols = ta == .none ? K : M
        let bRows = tb == .none ? K : N, bCols = tb == .none ? N : K
        let lda = aCols + pad, ldb = bCols + pad, ldc = N + pad
        let a = FloatBuffer(count: aRows * lda), b = FloatBuffer(count: bRows * ldb), c = FloatBuffer(count: M * ldc)
        for i in 0..<a.count { a.pointer[i] = rng.normal() }
        for i in 0..<b.count { b.pointer[i] = rng.normal() }
        for i in 0..<c.count { c.pointer[i] = rng.normal() }
        let c0 = c.toArray()
        if let onednn {
            onednn.gemm(
                transA: ta, transB: tb, M: M, N: N, K: K, alpha: alpha, a: a.pointer, lda: lda, b: b.pointer, ldb: ldb,
                beta: beta, c: c.pointer, ldc: ldc)
            #expect(onednn.backend == .onednn)
        } else {
            BLAS.gemm(
                transA: ta, transB: tb, M: M, N: N, K: K, alpha: alpha, a: a.pointer, lda: lda, b: b.pointer, ldb: ldb,
                beta: beta, c: c.pointer, ldc: ldc)
        }
        var expected = c0, actual = c.toArray()
        for i in 0..<M {
            for j in 0..<N {
                var acc = 0.0
                for k in 0..<K {
                    let av = ta == .none ? a.pointer[i * lda + k] : a.pointer[k * lda + i]
                    let bv = tb == .none ? b.pointer[k * ldb + j] : b.pointer[j * ldb + k]
                    acc += Double(av) * Double(bv)
                }
                expected[i * ldc + j] = Float(Double(alpha) * acc + Double(beta) * Double(c0[i * ldc + j]))
            }
        }
        // Padding columns must be untouched.
        for i in 0..<M { for j in N..<ldc { actual[i * ldc + j] = c0[i * ldc + j] } }
        let cmp = Numerics.compare("gemm", actual, expected, atol: 1e-5, rtol: 1e-5)
        #expect(cmp.violations == 0, "\(cmp)")
        #expect(c.toArray() == actual)
    }

    @Test func coreNameIsReported() {
        #expect(!BLAS.coreName.isEmpty && BLAS.coreName != "unknown")
    }
}

@Suite struct TensorTests {
    /// Pages of `buffer` resident in memory (mincore).
    static func residentPages(_ buffer: FloatBuffer) -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: buffer.pointer) / page * page,
            end = Int(bitPattern: buffer.pointer) + buffer.count * 4
        var flags = [UInt8](repeating: 0, count: (end - start + page - 1) / page)
        #expect(mincore(UnsafeMutableRawPointer(bitPattern: start), end - start, &flags) == 0)
        return flags.reduce(0) { $0 + Int($1 & 1) }
    }

    /// A zero-pages buffer (model weights) reads as zeros and holds no memory until written, so a
    /// loader that hands each part on never has the whole resident; a heap buffer is touched at once.
    @Test func zeroPagesBecomeResidentOnlyWhenWritten() {
        let count = 16 << 20  // 64 MiB
        let lazy = FloatBuffer(zeroPages: count)
        #expect(Self.residentPages(lazy) < 16)
        #expect(lazy.pointer[0] == 0 && lazy.pointer[count - 1] == 0)
        for i in stride(from: 0, to: count / 2, by: 1024) { lazy.pointer[i] = Float(i) }
        let half = (count / 2) * 4 / Int(sysconf(Int32(_SC_PAGESIZE)))
        #expect(
            abs(Self.residentPages(lazy) - half) < 16, "resident \(Self.residentPages(lazy)) of \(half) written pages")
        #expect(lazy.pointer[2048] == 2048 && lazy.pointer[count / 2 + 5] == 0)
        let eager = FloatBuffer(count: count)
        #expect(Self.residentPages(eager) > 2 * half - 16)
    }

    @Test func viewsAndRows() {
        let buffer = FloatBuffer((0..<24).map(Float.init))
        let t = buffer.view(offset: 4, shape: [2, 10])
        #expect(t.row(1).toArray() == (14..<24).map(Float.init))
        #expect(t.reshaped([4, 5]).row(3).toArray() == (19..<24).map(Float.init))
        #expect(Int(bitPattern: buffer.pointer) % 64 == 0)
    }

    @Test func halfPrecisionRoundTrips() {
        for v: Float in [0, 1, -2.5, 65504, 1e-5, 0.333] {
            #expect(HalfPrecision.floatFromF16(HalfPrecision.f16FromFloat(v)) == Float(Float16(v)))
        }
        #expect(HalfPrecision.floatFromBF16(HalfPrecision.bf16FromFloat(1.0)) == 1.0)
        #expect(HalfPrecision.floatFromBF16(HalfPrecision.bf16FromFloat(3.140625)) == 3.140625)
        // Round to nearest even: 1 + 2^-8 is halfway between two bf16 values and rounds down to 1.
        #expect(HalfPrecision.floatFromBF16(HalfPrecision.bf16FromFloat(Float(1) + Float(1) / 256)) == 1)
        #expect(
            HalfPrecision.floatFromBF16(HalfPrecision.bf16FromFloat(Float(1) + Float(3) / 256)) == Float(1) + Float(4)
                / 256)
    }

    @Test func rngIsDeterministicAndUniform() {
        var a = Rng(seed: 42), b = Rng(seed: 42), c = Rng(seed: 43)
        let xs = (0..<10_000).map { _ in a.uniform() }
        #expect(xs == (0..<10_000).map { _ in b.uniform() })
        #expect(xs != (0..<10_000).map { _ in c.uniform() })
        let mean = xs.reduce(0, +) / Float(xs.count)
        #expect(abs(mean - 0.5) < 0.02 && xs.allSatisfy { $0 >= 0 && $0 < 1 })
        var n = Rng(seed: 1)
        let normals = (0..<20_000).map { _ in Double(n.normal()) }
        let m = normals.reduce(0, +) / 20_000, v = normals.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 20_000
        #expect(abs(m) < 0.03 && abs(v - 1) < 0.05)
    }
}
