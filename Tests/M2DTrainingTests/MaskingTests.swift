// Random masking: exact counts (the float64 int() of the official code), permutations, determinism.
import M2DTensor
import M2DTraining
import Testing

@Suite struct MaskingTests {
    @Test func officialCounts() {
        #expect(RandomMasking.keepCount(patches: 190, ratio: 0.7) == 57)
        #expect(RandomMasking.keepCount(patches: 190, ratio: 0.6) == 76)
        #expect(RandomMasking.keepCount(patches: 190, ratio: 0.75) == 47)
    }

    @Test(arguments: [(190, 0.7), (190, 0.6), (65, 0.5), (20, 0.75), (311, 0.7)])
    func everyMaskIsAPermutationWithExactCounts(patches: Int, ratio: Double) {
        var rng = Rng(seed: 3)
        for mask in RandomMasking.draw(batch: 16, patches: patches, ratio: ratio, rng: &rng) {
            #expect(mask.shuffle.sorted() == Array(0..<patches))
            #expect(mask.visible.count == RandomMasking.keepCount(patches: patches, ratio: ratio))
            #expect(mask.visible.count + mask.masked.count == patches)
            let restore = mask.restore
            #expect((0..<patches).allSatisfy { mask.shuffle[restore[$0]] == $0 })
        }
    }

    @Test func deterministicUnderTheSeedAndIndependentPerSample() {
        var a = Rng(seed: 11), b = Rng(seed: 11)
        let m1 = RandomMasking.draw(batch: 4, patches: 190, ratio: 0.7, rng: &a)
        let m2 = RandomMasking.draw(batch: 4, patches: 190, ratio: 0.7, rng: &b)
        #expect(m1 == m2)
        #expect(Set(m1.map(\.shuffle)).count == 4)
        // Over many draws every patch is masked about 70% of the time.
        var rng = Rng(seed: 12)
        var counts = [Int](repeating: 0, count: 190)
        for mask in RandomMasking.draw(batch: 2000, patches: 190, ratio: 0.7, rng: &rng) {
            for p in mask.masked { counts[p] += 1 }
        }
        #expect(counts.allSatisfy { abs(Double($0) / 2000 - 0.7) < 0.05 })
    }
}
