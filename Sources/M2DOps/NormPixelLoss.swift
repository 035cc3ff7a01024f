// The MAE / MSM-MAE reconstruction loss with norm_pix_loss (models_mae.py forward_loss): each
// target patch is standardized over its values (unbiased variance + 1e-6), and the loss is the
// mean over patches of the mean squared error. The caller passes only the masked patches, which
// is MAE's (loss * mask).sum() / mask.sum().
import Foundation

public enum NormPixelLoss {
    /// Loss of pred (T,P) against patches (T,P). Writes the standardized targets into
    /// `normalizedTarget` (T,P) for backward.
    public static func forward(
        pred: UnsafePointer<Float>, patches: UnsafePointer<Float>,
        normalizedTarget: UnsafeMutablePointer<Float>, tokens T: Int, dim P: Int
    ) -> Double {
        var total = 0.0
        for t in 0..<T {
            let p = pred + t * P, y = patches + t * P, yn = normalizedTarget + t * P
            TargetStandardization.row(y, into: yn, count: P)
            var squared = 0.0
            for d in 0..<P { let e = Double(p[d]) - Double(yn[d]); squared += e * e }
            total += squared / Double(P)
        }
        return total / Double(T)
    }

    /// dPred (T,P) += d(loss)/d(pred) = 2 (pred - target) / (T P).
    public static func backward(
        dPred: UnsafeMutablePointer<Float>, pred: UnsafePointer<Float>,
        normalizedTarget: UnsafePointer<Float>, tokens T: Int, dim P: Int
    ) {
        let k = Float(2 / Double(T * P))
        for i in 0..<(T * P) { dPred[i] += k * (pred[i] - normalizedTarget[i]) }
    }
}
