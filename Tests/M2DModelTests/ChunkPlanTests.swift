// Chunking arithmetic of docs/NUMERICS.md §3.2.
import M2DModel
import Testing

@Suite struct ChunkPlanTests {
    @Test func tenSecondsAt608() {
        let plan = ChunkPlan(frames: 1001, chunkFrames: 608, patchWidth: 16)
        #expect(plan.paddedFrames == 1008)
        #expect(plan.chunks.map(\.timePatches) == [38, 25])
        #expect(plan.chunks.map(\.startFrame) == [0, 608])
        #expect(plan.outputFrames == 63)
    }

    @Test func chunkOf1001DropsLeftoverFrames() {
        let plan = ChunkPlan(frames: 1001, chunkFrames: 1001, patchWidth: 16)
        #expect(plan.paddedFrames == 1001)
        #expect(plan.chunks.map(\.timePatches) == [62])
    }

    @Test func exactMultipleNeedsNoPadding() {
        let plan = ChunkPlan(frames: 608, chunkFrames: 608, patchWidth: 16)
        #expect(plan.paddedFrames == 608 && plan.chunks.count == 1 && plan.outputFrames == 38)
    }

    @Test func shorterThanOnePatchPadsToOne() {
        let plan = ChunkPlan(frames: 10, chunkFrames: 208, patchWidth: 16)
        #expect(plan.paddedFrames == 16 && plan.outputFrames == 1)
    }

    @Test(arguments: [1, 15, 16, 17, 207, 208, 209, 500, 1001, 5000])
    func outputFramesIsCeilWhenChunkIsMultipleOfPatch(frames: Int) {
        let plan = ChunkPlan(frames: frames, chunkFrames: 208, patchWidth: 16)
        #expect(plan.outputFrames == (frames + 15) / 16)
        #expect(plan.chunks.count == (frames + 207) / 208)
    }
}
