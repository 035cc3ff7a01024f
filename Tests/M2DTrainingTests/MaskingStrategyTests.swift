// Inverse block and dispersion-weighted masking (docs/MASKING.md): exact counts on every grid, the IBM
// construction (clamped blocks plus top-up singletons), DWM's preference for dispersed patches and
// its avoidance of constant ones, and the hint schedule.
import Foundation
import M2DTensor
import M2DTraining
import Testing

@Suite struct MaskingStrategyTests {
    /// A batch (B, F*16, T*16) of random log-mel-like values; patches of the last time column are zero padding.
    func batch(_ B: Int, F: Int, T: Int, seed: UInt64) -> [Float] {
        var rng = Rng(seed: seed)
        let frames = T * 16
        var x = [Float](repeating: 0, count: B * F * 16 * frames)
        for b in 0..<B {
            for r in 0..<(F * 16) { for c in 0..<(frames - 16) { x[(b * F * 16 + r) * frames + c] = rng.normal() } }
        }
        return x
    }

    @Test(arguments: [MaskingStrategy.random, .inverseBlock, .dwm])
    func exactCountsOnEveryGrid(strategy: MaskingStrategy) {
        for T in [2, 4, 38, 62, 100] {
            for ratio in [0.5, 0.7, 0.75] {
                for hint in [0.0, 0.4] {
                    let x = batch(3, F: 5, T: T, seed: UInt64(T))
                    var rng = Rng(seed: 5)
                    let config = MaskingConfig(strategy: strategy, constantHintRatio: hint)
                    let masks = x.withUnsafeBufferPointer {
                        Masking.draw(
                            config, input: $0.baseAddress!, batch: 3, freqPatches: 5, timePatches: T,
                            patchSize: (16, 16),
                            ratio: ratio, epoch: 0, epochs: 10, rng: &rng)
                    }
                    let L = 5 * T, K = RandomMasking.keepCount(patches: L, ratio: ratio)
                    for m in masks {
                        #expect(m.keep == K && m.masked.count == L - K, "\(strategy) T=\(T) r=\(ratio)")
                        #expect(m.shuffle.sorted() == Array(0..<L))
                    }
                }
            }
        }
    }

    @Test(arguments: [MaskingStrategy.inverseBlock, .dwm])
    func deterministicUnderTheSeed(strategy: MaskingStrategy) {
        let x = batch(4, F: 5, T: 38, seed: 1)
        func draw(_ seed: UInt64) -> [PatchMask] {
            var rng = Rng(seed: seed)
            return x.withUnsafeBufferPointer {
                Masking.draw(
                    MaskingConfig(strategy: strategy, constantHintRatio: 0), input: $0.baseAddress!, batch: 4,
                    freqPatches: 5,
                    timePatches: 38, patchSize: (16, 16), ratio: 0.7, epoch: 0, epochs: 1, rng: &rng)
            }
        }
        #expect(draw(9) == draw(9))
        #expect(draw(9) != draw(10))
    }

    @Test func inverseBlockVisibleCellsAreClampedBlocksPlusSingletons() {
        var rng = Rng(seed: 21)
        let F = 5, w = 5
        for T in [4, 38, 62] {
            let L = F * T, K = RandomMasking.keepCount(patches: L, ratio: 0.7)
            var blockCellTotal = 0
            let draws = 500
            for _ in 0..<draws {
                let d = InverseBlockMasking.detailedDraw(freqPatches: F, timePatches: T, ratio: 0.7, rng: &rng)
                #expect(d.centres.count == Int(Double(L) * ((1 - 0.7 + 0.07) / 25)))
                // The union of the centres' clamped w x w neighbourhoods, built independently here.
                var expected = Set<Int>()
                for c in d.centres {
                    for df in -(w / 2)...(w - 1 - w / 2) {
                        for dt in -(w / 2)...(w - 1 - w / 2) {
                            expected.insert(min(max(c / T + df, 0), F - 1) * T + min(max(c % T + dt, 0), T - 1))
                        }
                    }
                }
                #expect(d.blockCells == expected)
                #expect(d.dropped.isSubset(of: d.blockCells) && d.added.isDisjoint(with: d.blockCells))
                #expect(d.dropped.isEmpty || d.added.isEmpty)
                #expect(Set(d.mask.visible) == d.blockCells.subtracting(d.dropped).union(d.added))
                #expect(d.mask.visible.count == K)
                blockCellTotal += d.blockCells.count
            }
            // docs/MASKING.md's simulation: on a 5 x 38 grid the blocks mark 35 cells on average.
            if T == 38 { #expect(abs(Double(blockCellTotal) / Double(draws) - 35) < 3) }
        }
    }

    @Test func dwmMasksDispersedPatchesMoreAndConstantOnesAlmostNever() {
        // Patch i of a 5 x 20 grid holds noise of amplitude proportional to i; the last four are constant.
        let F = 5, T = 20, L = F * T, frames = T * 16
        var rng = Rng(seed: 33)
        var x = [Float](repeating: 0, count: F * 16 * frames)
        for f in 0..<F {
            for t in 0..<T where f * T + t < L - 4 {
                let amplitude = Float(f * T + t + 1) / Float(L)
                for i in 0..<16 { for j in 0..<16 { x[(f * 16 + i) * frames + t * 16 + j] = amplitude * rng.normal() } }
            }
        }
        let weights = x.withUnsafeBufferPointer {
            DispersionMasking.meanAbsoluteDeviation(
                $0.baseAddress!, freqPatches: F, timePatches: T, patchHeight: 16, patchWidth: 16)
        }
        #expect(weights.suffix(4).allSatisfy { $0 == 0 })
        var counts = [Int](repeating: 0, count: L)
        let draws = 4000
        for _ in 0..<draws {
            for p in DispersionMasking.draw(weights: weights, ratio: 0.7, hintRatio: 0, rng: &rng).masked {
                counts[p] += 1
            }
        }
        let frequency = counts.map { Double($0) / Double(draws) }
        #expect(frequency.suffix(4).allSatisfy { $0 < 0.01 }, "constant patches masked: \(frequency.suffix(4))")
        // Mean frequency over quintiles of the dispersed patches rises with their deviation.
        let ranked = (0..<(L - 4)).sorted { weights[$0] < weights[$1] }
        let quintiles = (0..<5).map { q in
            ranked[(q * ranked.count / 5)..<((q + 1) * ranked.count / 5)].map { frequency[$0] }.reduce(0, +)
                / Double(ranked.count / 5)
        }
        #expect(zip(quintiles, quintiles.dropFirst()).allSatisfy { $0 < $1 }, "quintile frequencies \(quintiles)")
        #expect(quintiles[4] - quintiles[0] > 0.2)
        // With hints the mask moves toward uniform: the spread between quintiles shrinks.
        var hinted = [Int](repeating: 0, count: L)
        for _ in 0..<draws {
            for p in DispersionMasking.draw(weights: weights, ratio: 0.7, hintRatio: 0.8, rng: &rng).masked {
                hinted[p] += 1
            }
        }
        let hq = (0..<5).map { q in
            ranked[(q * ranked.count / 5)..<((q + 1) * ranked.count / 5)].map { Double(hinted[$0]) / Double(draws) }
                .reduce(0, +) / Double(ranked.count / 5)
        }
        #expect(hq[4] - hq[0] < (quintiles[4] - quintiles[0]) / 2)
    }

    @Test func hintScheduleGivesRandomMaskingBeforeTheStartEpoch() {
        let config = MaskingConfig(strategy: .dwm, hintK: 2, startEpoch: 50)
        #expect(config.hintRatio(epoch: 0, epochs: 300) == 1)
        #expect(config.hintRatio(epoch: 49, epochs: 300) == 1)
        #expect(abs(config.hintRatio(epoch: 150, epochs: 300) - 0.75) < 1e-12)
        #expect(abs(config.hintRatio(epoch: 250, epochs: 300) - (1 - pow(250.0 / 300, 2))) < 1e-12)
        #expect(MaskingConfig(strategy: .dwm, constantHintRatio: 0.3).hintRatio(epoch: 0, epochs: 300) == 0.3)
        let x = batch(4, F: 5, T: 38, seed: 2)
        for strategy in [MaskingStrategy.dwm, .inverseBlock] {
            var a = Rng(seed: 8), b = Rng(seed: 8)
            let early = x.withUnsafeBufferPointer {
                Masking.draw(
                    MaskingConfig(strategy: strategy, startEpoch: 50), input: $0.baseAddress!, batch: 4, freqPatches: 5,
                    timePatches: 38,
                    patchSize: (16, 16), ratio: 0.7, epoch: 49, epochs: 300, rng: &a)
            }
            #expect(early == RandomMasking.draw(batch: 4, patches: 190, ratio: 0.7, rng: &b))
            var c = Rng(seed: 8), d = Rng(seed: 8)
            let late = x.withUnsafeBufferPointer {
                Masking.draw(
                    MaskingConfig(strategy: strategy, startEpoch: 50), input: $0.baseAddress!, batch: 4, freqPatches: 5,
                    timePatches: 38,
                    patchSize: (16, 16), ratio: 0.7, epoch: 50, epochs: 300, rng: &c)
            }
            #expect(late != RandomMasking.draw(batch: 4, patches: 190, ratio: 0.7, rng: &d))
        }
    }
}
