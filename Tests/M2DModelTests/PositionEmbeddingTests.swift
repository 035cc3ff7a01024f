// The fixed sin-cos position embedding against the spec's check values and the stored golden one.
import M2DCheckpoint
import M2DModel
import M2DTensor
import Testing
import TestSupport

@Suite struct PositionEmbeddingTests {
    @Test func checkValues() {
        let D = 768, out = FloatBuffer(count: 191 * D)
        PositionEmbedding.fill(out.pointer, embedDim: D, gridHeight: 5, gridWidth: 38)
        let row = out.pointer + (1 + 0 * 38 + 1) * D  // token (h=0, w=1)
        #expect(abs(row[0] - 0.841471) < 1e-6)
        #expect(abs(row[192] - 0.540302) < 1e-6)
        #expect(row[384] == 0 && row[576] == 1)
        #expect((0..<D).allSatisfy { out.pointer[$0] == 0 })
    }

    @Test func matchesGoldenStoredPositionEmbedding() throws {
        let file = try SafeTensorsFile(path: Fixtures.golden + "/tiny_608_flat/model/model.safetensors")
        let stored = try file.array("pos_embed")
        let out = FloatBuffer(count: stored.count)
        PositionEmbedding.fill(out.pointer, embedDim: 96, gridHeight: 5, gridWidth: 38)
        let cmp = Numerics.compare("pos_embed", out.toArray(), stored, atol: 1e-6)
        #expect(cmp.violations == 0, "\(cmp)")
    }
}
