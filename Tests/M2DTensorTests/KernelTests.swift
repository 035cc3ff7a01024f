// The fused encoder's row kernels (CKernels) against plain references in Double: attention per head at
// odd sequence lengths, LayerNorm at odd widths, GELU against erf; the thread team runs every share once.
import CKernels
import Foundation
import M2DTensor
import Testing
import TestSupport

@Suite struct KernelTests {
    /// Attention of one head (softmax(scale q.k) v) in Double, for head h of qkv (n, 3D).
    static func attentionReference(_ qkv: [Float], n: Int, D: Int, hd: Int, h: Int) -> [Float] {
        let scale = 1 / Double(hd).squareRoot()
        var out = [Float](repeating: 0, count: n * hd)
        for i in 0..<n {
            var scores = [Double](repeating: 0, count: n)
            for j in 0..<n {
                var dot = 0.0
                for d in 0..<hd { dot += Double(qkv[i * 3 * D + h * hd + d]) * Double(qkv[j * 3 * D + D + h * hd + d]) }
                scores[j] = dot * scale
            }
            let m = scores.max()!
            let e = scores.map { Foundation.exp($0 - m) }, sum = e.reduce(0, +)
            for c in 0..<hd {
                var o = 0.0
                for j in 0..<n { o += e[j] / sum * Double(qkv[j * 3 * D + 2 * D + h * hd + c]) }
                out[i * hd + c] = Float(o)
            }
        }
        return out
    }

    /// Each attention kernel this CPU runs (AVX2 always; AVX-512 where the CPU has it).
    static let attentionTiers: [Int32] = m2d_cpu_detect().isa >= Int32(M2D_ISA_AVX512)
        ? [Int32(M2D_ISA_AVX2), Int32(M2D_ISA_AVX512)] : [Int32(M2D_ISA_AVX2)]

    @Test(arguments: attentionTiers, [1, 2, 7, 32, 191, 193, 311])
    func attentionHeadMatchesTheReference(isa: Int32, n: Int) {
        let heads = 3, hd = 64, D = heads * hd
        var cpu = m2d_cpu_detect()
        cpu.isa = isa
        let kernel = m2d_attention_for(cpu, Int64(hd))
        #expect(String(cString: kernel.isa) == String(cString: m2d_isa_name(isa)))
        var rng = Rng(seed: UInt64(n))
        let qkv = (0..<(n * 3 * D)).map { _ in rng.normal() }
        var out = [Float](repeating: .nan, count: n * D)
        var scratch = [Float](repeating: 0, count: Int(kernel.scratch(Int64(n), Int64(hd))))
        for h in 0..<heads {
            kernel.head(qkv, Int64(D), Int64(n), Int64(hd), Int64(h), 1 / Float(hd).squareRoot(), &out, &scratch)
        }
        for h in 0..<heads {
            var got: [Float] = []
            for i in 0..<n { got += out[(i * D + h * hd)..<(i * D + h * hd + hd)] }
            let cmp = Numerics.compare(
                "attention \(String(cString: kernel.isa)) n=\(n) head \(h)", got,
                Self.attentionReference(qkv, n: n, D: D, hd: hd, h: h), atol: 1e-6, rtol: 1e-5)
            #expect(cmp.violations == 0, "\(cmp)")
        }
    }

    @Test(arguments: [768, 100, 8, 3])
    func layerNormRowsMatchTheReference(width D: Int) {
        var rng = Rng(seed: UInt64(D))
        let rows = 5
        let x = (0..<(rows * D)).map { _ in rng.normal() * 3 + 1 }
        let w = (0..<D).map { _ in rng.normal() + 1 }, b = (0..<D).map { _ in rng.normal() }
        var y = [Float](repeating: .nan, count: rows * D)
        m2d_layernorm_rows(x, Int64(D), 1, Int64(rows), w, b, 1e-6, &y)
        let untouched = y[0..<D].allSatisfy { $0.isNaN }
        #expect(untouched, "a row outside [from, to) was written")
        var expected = [Float](repeating: 0, count: (rows - 1) * D)
        for r in 1..<rows {
            let row = x[(r * D)..<((r + 1) * D)].map(Double.init)
            let mu = row.reduce(0, +) / Double(D)
            let variance = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(D)
            let rstd = 1 / (variance + 1e-6).squareRoot()
            for c in 0..<D { expected[(r - 1) * D + c] = Float((row[c] - mu) * rstd * Double(w[c]) + Double(b[c])) }
        }
        let cmp = Numerics.compare("layer norm D=\(D)", Array(y[D...]), expected, atol: 1e-5, rtol: 1e-5)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    @Test func geluIsTheErfForm() {
        var x = (0..<1003).map { Float($0 - 500) / 60 }
        let expected = x.map { Float(0.5 * Double($0) * (1 + erf(Double($0) / 2.0.squareRoot()))) }
        m2d_gelu(&x, Int64(x.count))
        let cmp = Numerics.compare("gelu", x, expected, atol: 1e-6, rtol: 1e-5)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    /// Every thread runs its share of every step, exactly once, run after run.
    @Test(arguments: [1, 2, 5])
    func theTeamRunsEveryShareOnce(threads: Int) {
        final class Marks: @unchecked Sendable { var counts = [Int](repeating: 0, count: 64) }
        let marks = Marks()
        let team = m2d_team_create(Int32(threads))!
        defer { m2d_team_destroy(team) }
        #expect(m2d_team_size(team) == Int32(threads))
        for _ in 0..<1000 {
            m2d_team_run(team, { raw, thread, count in
                let marks = Unmanaged<Marks>.fromOpaque(raw!).takeUnretainedValue()
                precondition(count > 0)
                marks.counts[Int(thread)] += 1
            }, Unmanaged.passUnretained(marks).toOpaque())
        }
        #expect(Array(marks.counts[0..<threads]) == Array(repeating: 1000, count: threads))
        #expect(marks.counts[threads...].allSatisfy { $0 == 0 })
    }
}
