// DispersionMasking: dispersion-weighted masking (DWM, docs/MASKING.md §1; upstream
// random_weighted_mask_with_hint). Each patch weighs its mean absolute deviation about its own
// mean; num_mask patches are drawn without replacement with probability proportional to
// w + 1e-12 (as Gumbel-top-k: the same distribution as torch.multinomial, not the same bits).
// With hint ratio h, int(num_mask h) drawn patches are revealed and as many re-masked uniformly
// from the visible pool, so h moves the mask toward random.
import Foundation
import M2DTensor

public enum DispersionMasking {
    /// Mean absolute deviation of each ph x pw patch of `input` (F*ph, T*pw), in token order f*T + t.
    public static func meanAbsoluteDeviation(
        _ input: UnsafePointer<Float>, freqPatches F: Int, timePatches T: Int,
        patchHeight ph: Int, patchWidth pw: Int
    ) -> [Double] {
        let frames = T * pw, n = Double(ph * pw)
        var weights = [Double](repeating: 0, count: F * T)
        for f in 0..<F {
            for t in 0..<T {
                var sum = 0.0
                for i in 0..<ph { for j in 0..<pw { sum += Double(input[(f * ph + i) * frames + t * pw + j]) } }
                let mean = sum / n
                var deviation = 0.0
                for i in 0..<ph {
                    for j in 0..<pw { deviation += abs(Double(input[(f * ph + i) * frames + t * pw + j]) - mean) }
                }
                weights[f * T + t] = deviation / n
            }
        }
        return weights
    }

    /// One mask: visible then masked, each in ascending patch order.
    public static func draw(weights: [Double], ratio: Double, hintRatio h: Double, rng: inout Rng) -> PatchMask {
        let L = weights.count, K = RandomMasking.keepCount(patches: L, ratio: ratio), numMask = L - K
        let keys = weights.map { w -> Double in
            let u = (Double(rng.next() >> 11) + 0.5) / 9_007_199_254_740_992
            return log(w + 1e-12) - log(-log(u))
        }
        let order = (0..<L).sorted { keys[$0] != keys[$1] ? keys[$0] > keys[$1] : $0 < $1 }
        var masked = Set(order.prefix(numMask))
        var visible = Set(order.dropFirst(numMask))
        let hints = Int(Double(numMask) * min(max(h, 0), 1))
        if hints > 0 {
            let revealed = Masking.sample(masked.sorted(), count: hints, rng: &rng)
            masked.subtract(revealed)
            visible.formUnion(revealed)
            let remasked = Masking.sample(visible.sorted(), count: hints, rng: &rng)
            visible.subtract(remasked)
            masked.formUnion(remasked)
        }
        return PatchMask(shuffle: visible.sorted() + masked.sorted(), keep: K)
    }
}
