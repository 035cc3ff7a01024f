import Foundation

// Adam (torch.optim.Adam): bias-corrected moments, L2 weight decay added to the gradient
// (not decoupled), over one flat parameter buffer.

public struct Adam: Sendable {
    public var lr: Float
    public var beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8
    public var weightDecay: Float
    public private(set) var step = 0
    private var m: [Float]
    private var v: [Float]

    public init(count: Int, lr: Float, weightDecay: Float = 0) {
        self.lr = lr
        self.weightDecay = weightDecay
        m = [Float](repeating: 0, count: count)
        v = [Float](repeating: 0, count: count)
    }

    /// params (n) -= update from grads (n).
    public mutating func update(_ params: UnsafeMutablePointer<Float>, _ grads: UnsafePointer<Float>) {
        step += 1
        let c1 = 1 - Float(pow(Double(beta1), Double(step))), c2 = 1 - Float(pow(Double(beta2), Double(step)))
        let stepSize = lr / c1
        let c2Root = c2.squareRoot()
        for i in 0..<m.count {
            let g = grads[i] + weightDecay * params[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            params[i] -= stepSize * m[i] / (v[i].squareRoot() / c2Root + eps)
        }
    }
}
