// Learning-rate and EMA schedules of docs/NUMERICS.md §5.4 / 5.6, set every optimizer step.

public enum Schedules {
    /// lr at fractional epoch e: linear warm-up to `peak` over `warmupEpochs` (0 at the first step),
    /// then half-cosine to `minLR` at `epochs` (util/lr_sched.py adjust_learning_rate).
    public static func learningRate(
        epoch e: Double, peak: Double, minLR: Double = 0, warmupEpochs: Double, epochs: Double
    ) -> Double {
        if e < warmupEpochs { return peak * e / warmupEpochs }
        let progress = (e - warmupEpochs) / max(1e-12, epochs - warmupEpochs)
        return minLR + (peak - minLR) * 0.5 * (1 + cos(Double.pi * min(1, progress)))
    }

    /// tau(step) = start + (end - start) * step / (total - 1) (train_audio.py ema_decay_sched).
    public static func ema(step: Int, totalSteps: Int, start: Double = 0.99995, end: Double = 0.99999) -> Double {
        start + (end - start) * Double(step) / Double(max(1, totalSteps - 1))
    }
}

import Foundation
