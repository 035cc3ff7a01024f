// AdamW (torch.optim.AdamW) with the official M2D parameter groups (docs/NUMERICS.md §5.6): decoupled
// weight decay on every tensor except 1-D ones and biases; betas (0.9, 0.95), eps 1e-8. One flat
// loop over the parameter buffer.
import Foundation
import M2DModel
import M2DTensor

public struct AdamW: Sendable {
    public var beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.05
    public private(set) var step = 0
    public let m: FloatBuffer, v: FloatBuffer
    /// Maximal runs of adjacent parameters that all decay or all do not.
    let runs: [(range: Range<Int>, decays: Bool)]

    public init(layout: ParameterLayout) {
        m = FloatBuffer(count: layout.count)
        v = FloatBuffer(count: layout.count)
        var runs: [(range: Range<Int>, decays: Bool)] = []
        for e in layout.entries where e.shape.count > 0 {
            let decays = Self.decays(e.name, e.shape), range = e.offset..<(e.offset + e.shape.count)
            if let last = runs.last, last.decays == decays, last.range.upperBound == range.lowerBound {
                runs[runs.count - 1].range = last.range.lowerBound..<range.upperBound
            } else {
                runs.append((range, decays))
            }
        }
        self.runs = runs
    }

    public static func decays(_ name: String, _ shape: Shape) -> Bool { shape.rank > 1 && !name.hasSuffix(".bias") }

    mutating func setStep(_ s: Int) { step = s }

    /// One update of `params` from `grads` (both the layout's size) at learning rate `lr`.
    public mutating func update(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, lr: Float) {
        step += 1
        let c1 = 1 - Float(pow(Double(beta1), Double(step))), c2 = 1 - Float(pow(Double(beta2), Double(step)))
        let stepSize = lr / c1, c2Root = c2.squareRoot()
        let m = self.m.pointer, v = self.v.pointer
        let (beta1, beta2, eps) = (self.beta1, self.beta2, self.eps)
        // Memory-bound: one pass over four arrays, in SIMD8 lanes, split across the BLAS threads.
        // Every lane does the scalar formula's operations in the scalar order, so results do not
        // depend on the split.
        for run in runs {
            let shrink: Float = run.decays ? 1 - lr * weightDecay : 1
            Parallel.forRanges(run.range.count, grain: 1 << 16) { part in
                let lo = run.range.lowerBound + part.lowerBound, hi = run.range.lowerBound + part.upperBound
                typealias V = SIMD8<Float>
                var i = lo
                while i + 8 <= hi {
                    let p = UnsafeMutableRawPointer(params + i), mp = UnsafeMutableRawPointer(m + i),
                        vp = UnsafeMutableRawPointer(v + i)
                    let g = UnsafeRawPointer(grads + i).loadUnaligned(as: V.self)
                    let mi = beta1 * mp.loadUnaligned(as: V.self) + (1 - beta1) * g
                    let vi = beta2 * vp.loadUnaligned(as: V.self) + (1 - beta2) * g * g
                    var pi = p.loadUnaligned(as: V.self)
                    if run.decays { pi *= shrink }
                    pi -= stepSize * mi / (vi.squareRoot() / c2Root + eps)
                    mp.storeBytes(of: mi, as: V.self); vp.storeBytes(of: vi, as: V.self);
                    p.storeBytes(of: pi, as: V.self)
                    i += 8
                }
                while i < hi {
                    if run.decays { params[i] *= shrink }
                    let g = grads[i]
                    m[i] = beta1 * m[i] + (1 - beta1) * g
                    v[i] = beta2 * v[i] + (1 - beta2) * g * g
                    params[i] -= stepSize * m[i] / (v[i].squareRoot() / c2Root + eps)
                    i += 1
                }
            }
        }
    }
}
