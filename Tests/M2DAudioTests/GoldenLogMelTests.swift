// The WAV decoder + front end alone against the official log-mel (independent of any model).
import M2DAudio
import M2DCheckpoint
import Testing
import TestSupport

@Suite struct GoldenLogMelTests {
    @Test(arguments: Fixtures.goldenAudio)
    func logMelMatchesOfficial(_ name: String) throws {
        let expected = try SafeTensorsFile(path: Fixtures.golden + "/tiny_208/expected.safetensors")
        let audio = try AudioPipeline.prepare(Fixtures.bytes(Fixtures.golden + "/audio/\(name).wav"), sampleRate: 16000)
        let ours = LogMelFrontEnd(.m2d16k).logMel(audio.samples).toArray()
        let cmp = Numerics.compare("logmel.\(name)", ours, try expected.array("logmel.\(name)"), atol: 1e-3)
        #expect(cmp.violations == 0, "\(cmp)")
    }
}
