// AdamW (torch.optim.AdamW) with the official M2D parameter groups (M2D-SPEC 5.6): decoupled
// weight decay on every tensor except 1-D ones and biases; betas (0.9, 0.95), eps 1e-8. The EMA
// update of the target encoder (M2D-SPEC 5.4) lives here too: both are flat loops over buffers.
import Foundation
import M2DModel
import M2DTensor

public struct AdamW: Sendable {
    public var beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.05
    public private(set) var step = 0
    public let m: FloatBuffer, v: FloatBuffer
    /// Per parameter: 1 when it decays, 0 otherwise.
    let decays: FloatBuffer

    public init(layout: ParameterLayout) {
        m = FloatBuffer(count: layout.count)
        v = FloatBuffer(count: layout.count)
        decays = FloatBuffer(count: layout.count)
        for e in layout.entries where e.shape.rank > 1 && !e.name.hasSuffix(".bias") {
            for i in 0..<e.shape.count { decays.pointer[e.offset + i] = 1 }
        }
    }

    public static func decays(_ name: String, _ shape: Shape) -> Bool { shape.rank > 1 && !name.hasSuffix(".bias") }

    mutating func setStep(_ s: Int) { step = s }

    /// One update of `params` from `grads` (both the layout's size) at learning rate `lr`.
    public mutating func update(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, lr: Float) {
        step += 1
        let c1 = 1 - Float(pow(Double(beta1), Double(step))), c2 = 1 - Float(pow(Double(beta2), Double(step)))
        let stepSize = lr / c1, c2Root = c2.squareRoot()
        let m = self.m.pointer, v = self.v.pointer, decay = decays.pointer
        for i in 0..<self.m.count {
            params[i] *= 1 - lr * weightDecay * decay[i]
            let g = grads[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            params[i] -= stepSize * m[i] / (v[i].squareRoot() / c2Root + eps)
        }
    }
}

extension M2DNetwork {
    /// target <- tau * target + (1 - tau) * online, for target_blocks <- blocks and target_norm <- norm.
    public func updateTarget(tau: Float) {
        for e in target.entries {
            let online = e.name.replacingOccurrences(of: "target_blocks.", with: "blocks.").replacingOccurrences(of: "target_norm.", with: "norm.")
            let src = params.pointer + trainable.entry(online).offset, dst = targetValues.pointer + e.offset
            for i in 0..<e.shape.count { dst[i] = tau * dst[i] + (1 - tau) * src[i] }
        }
    }
}
