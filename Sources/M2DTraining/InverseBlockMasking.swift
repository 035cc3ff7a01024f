// InverseBlockMasking: data2vec 2.0's inverse block mask (fairseq compute_block_mask_2d with
// inverse_mask, require_same_masks, overlapping blocks; docs/MASKING.md §2) on an F x T patch grid. The
// blocks mark the patches to KEEP: n_c = int(L (p + a) / w^2) centres drawn uniformly with
// replacement, each marking its w x w neighbourhood clamped to the grid; then random marked cells
// are dropped, or random unmarked singletons added, until exactly K = int(L p) are kept
// (p = 1 - mask ratio). Visible first, then masked, each in random order (argsort(mask + U)).
import M2DTensor

public enum InverseBlockMasking {
    /// One draw with its parts, so tests can check the construction.
    public struct Draw: Sendable {
        public var centres: [Int]
        /// Cells marked by the (clamped, overlapping) blocks before the count is adjusted.
        public var blockCells: Set<Int>
        /// Block cells dropped (when the blocks marked more than K) and singletons added (fewer).
        public var dropped: Set<Int>, added: Set<Int>
        public var mask: PatchMask
    }

    public static func draw(
        freqPatches F: Int, timePatches T: Int, ratio: Double, blockSize w: Int = 5, adjust a: Double = 0.07,
        rng: inout Rng
    ) -> PatchMask {
        detailedDraw(freqPatches: F, timePatches: T, ratio: ratio, blockSize: w, adjust: a, rng: &rng).mask
    }

    public static func detailedDraw(
        freqPatches F: Int, timePatches T: Int, ratio: Double, blockSize w: Int = 5, adjust a: Double = 0.07,
        rng: inout Rng
    ) -> Draw {
        let L = F * T, keepFraction = 1 - ratio
        let centreCount = Int(Double(L) * ((keepFraction + a) / Double(w * w)))
        let K = RandomMasking.keepCount(patches: L, ratio: ratio)
        let centres = (0..<centreCount).map { _ in Int.random(in: 0..<L, using: &rng) }
        var blockCells = Set<Int>()
        for c in centres {
            let f = c / T, t = c % T
            for i in 0..<w {
                for j in 0..<w {
                    let ff = min(max(f + i - w / 2, 0), F - 1), tt = min(max(t + j - w / 2, 0), T - 1)
                    blockCells.insert(ff * T + tt)
                }
            }
        }
        var kept = blockCells, dropped = Set<Int>(), added = Set<Int>()
        if kept.count > K {
            dropped = Set(Masking.sample(kept.sorted(), count: kept.count - K, rng: &rng))
            kept.subtract(dropped)
        } else if kept.count < K {
            added = Set(Masking.sample((0..<L).filter { !kept.contains($0) }, count: K - kept.count, rng: &rng))
            kept.formUnion(added)
        }
        let visible = kept.sorted().shuffled(using: &rng)
        let masked = (0..<L).filter { !kept.contains($0) }.shuffled(using: &rng)
        return Draw(
            centres: centres, blockCells: blockCells, dropped: dropped, added: added,
            mask: PatchMask(shuffle: visible + masked, keep: K))
    }
}
