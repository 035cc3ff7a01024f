// The M2D loss (docs/NUMERICS.md §5.3 steps 4-5, models_mae.py forward_loss with norm_pix_loss and
// loss_type 'norm_mse'): standardize each target token over its features (unbiased variance +
// 1e-6), L2-normalize prediction and target (F.normalize, eps 1e-12), loss = mean over tokens of
// 2 - 2 cos. The target branch gets no gradient.
import Foundation

public enum M2DLoss {
    /// Loss of pred (T,D) against target (T,D). Writes the normalized target into `targetOut` (T,D)
    /// for backward.
    public static func forward(
        pred: UnsafePointer<Float>, target: UnsafePointer<Float>,
        normalizedTarget: UnsafeMutablePointer<Float>, tokens T: Int, dim D: Int
    ) -> Double {
        var total = 0.0
        for t in 0..<T {
            let p = pred + t * D, y = target + t * D, yn = normalizedTarget + t * D
            TargetStandardization.row(y, into: yn, count: D)
            var norm = 0.0
            for d in 0..<D { norm += Double(yn[d]) * Double(yn[d]) }
            let yNorm = max(norm.squareRoot(), 1e-12)
            var pNorm = 0.0, dot = 0.0
            for d in 0..<D {
                yn[d] = Float(Double(yn[d]) / yNorm)
                pNorm += Double(p[d]) * Double(p[d])
            }
            pNorm = max(pNorm.squareRoot(), 1e-12)
            for d in 0..<D { dot += Double(p[d]) / pNorm * Double(yn[d]) }
            total += 2 - 2 * dot
        }
        return total / Double(T)
    }

    /// dPred (T,D) += scale * d(loss)/d(pred), with the normalized target from `forward`.
    public static func backward(
        dPred: UnsafeMutablePointer<Float>, pred: UnsafePointer<Float>,
        normalizedTarget: UnsafePointer<Float>, tokens T: Int, dim D: Int, scale: Float = 1
    ) {
        for t in 0..<T {
            let p = pred + t * D, yn = normalizedTarget + t * D, dp = dPred + t * D
            var norm = 0.0
            for d in 0..<D { norm += Double(p[d]) * Double(p[d]) }
            norm = norm.squareRoot()
            guard norm > 1e-12 else { continue }
            var cos = 0.0
            for d in 0..<D { cos += Double(p[d]) / norm * Double(yn[d]) }
            let k = -2 / Double(T) * Double(scale) / norm
            for d in 0..<D { dp[d] += Float(k * (Double(yn[d]) - cos * Double(p[d]) / norm)) }
        }
    }
}
