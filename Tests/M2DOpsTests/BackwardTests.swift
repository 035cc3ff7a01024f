// Backward ops against central finite differences in Double on tiny random inputs.
import M2DOps
import M2DTensor
import Testing
import TestSupport

@Suite struct BackwardTests {
    @Test func linearBackwardMatchesFiniteDifferences() {
        let M = 3, C = 5, OC = 4
        let x = randomBuffer(M * C, seed: 21), w = randomBuffer(OC * C, seed: 22), b = randomBuffer(OC, seed: 23)
        let r = randomBuffer(M * OC, seed: 24)  // L = sum(r * out)
        func loss() -> Double {
            let out = FloatBuffer(count: M * OC)
            Linear.forwardNaive(out: out.pointer, input: x.pointer, weight: w.pointer, bias: b.pointer, M: M, C: C, OC: OC)
            return (0..<(M * OC)).reduce(0.0) { $0 + Double(out.pointer[$1]) * Double(r.pointer[$1]) }
        }
        let dx = FloatBuffer(count: M * C), dw = FloatBuffer(count: OC * C), db = FloatBuffer(count: OC)
        Linear.backward(dInput: dx.pointer, dWeight: dw.pointer, dBias: db.pointer, dOut: r.pointer, input: x.pointer,
                        weight: w.pointer, M: M, C: C, OC: OC)
        for (name, param, grad) in [("input", x, dx), ("weight", w, dw), ("bias", b, db)] {
            var numeric = [Float]()
            for i in 0..<param.count {
                let keep = param.pointer[i], eps: Float = 1e-2
                param.pointer[i] = keep + eps; let up = loss()
                param.pointer[i] = keep - eps; let down = loss()
                param.pointer[i] = keep
                numeric.append(Float((up - down) / Double(2 * eps)))
            }
            let cmp = Numerics.compare("d\(name)", grad.toArray(), numeric, atol: 1e-4, rtol: 1e-3)
            #expect(cmp.violations == 0, "\(cmp)")
        }
        // Backward accumulates: a second call doubles the gradients.
        let before = dw.toArray()
        Linear.backward(dInput: nil, dWeight: dw.pointer, dBias: nil, dOut: r.pointer, input: x.pointer, weight: w.pointer, M: M, C: C, OC: OC)
        #expect(zip(dw.toArray(), before).allSatisfy { abs($0 - 2 * $1) <= 1e-5 * max(1, abs($1)) })
    }
}
