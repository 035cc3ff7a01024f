// RandomMasking: M2D's per-sample random unstructured mask (docs/NUMERICS.md §5.2, models_mae.py
// random_masking): noise ~ U[0,1), ids_shuffle = argsort(noise), the first len_keep are visible,
// the rest masked, both in shuffled order; len_keep = int(L * (1 - ratio)) in float64 (r = 0.7 on
// 190 patches keeps 57, masks 133).
import M2DTensor

public struct PatchMask: Sendable, Equatable {
    /// Patch indices in shuffled order: visible first (len_keep), then masked.
    public var shuffle: [Int]
    public var keep: Int

    public init(shuffle: [Int], keep: Int) {
        self.shuffle = shuffle
        self.keep = keep
    }
    public var visible: ArraySlice<Int> { shuffle[..<keep] }
    public var masked: ArraySlice<Int> { shuffle[keep...] }
    /// restore[patch] = position of `patch` in `shuffle` (argsort of shuffle).
    public var restore: [Int] {
        var r = [Int](repeating: 0, count: shuffle.count)
        for (i, p) in shuffle.enumerated() { r[p] = i }
        return r
    }
}

public enum RandomMasking {
    public static func keepCount(patches L: Int, ratio: Double) -> Int { Int(Double(L) * (1 - ratio)) }

    /// One mask per sample, drawn from `rng` (deterministic under the run's seed).
    public static func draw(batch: Int, patches L: Int, ratio: Double, rng: inout Rng) -> [PatchMask] {
        let keep = keepCount(patches: L, ratio: ratio)
        return (0..<batch).map { _ in
            let noise = (0..<L).map { _ in rng.uniform() }
            // argsort ascending; ties (probability ~0 with 24-bit uniforms) broken by index, like a stable sort.
            let shuffle = (0..<L).sorted { noise[$0] != noise[$1] ? noise[$0] < noise[$1] : $0 < $1 }
            return PatchMask(shuffle: shuffle, keep: keep)
        }
    }
}
