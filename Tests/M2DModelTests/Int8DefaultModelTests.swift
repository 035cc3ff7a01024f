// The int8 gate of the default model on real speech (docs/INT8.md): espeak-ng (a Debian package,
// installed by make deps) speaks sentences in several voices; int8 embeddings against fp32 ones.
import Foundation
import M2DAudio
import M2DModel
import M2DTensor
import Testing
import TestSupport

@Suite struct Int8DefaultModelTests {
    static let utterances: [(voice: String, text: String)] = [
        ("en", "The quick brown fox jumps over the lazy dog near the river bank."),
        ("en+f3", "Seven hundred and forty two boxes arrived on Tuesday morning."),
        ("de", "Der Zug nach Hamburg fährt um acht Uhr vom dritten Gleis."),
        ("fr+m4", "Il fait beau aujourd'hui, allons nous promener dans le parc."),
        ("es+klatt2", "Las montañas del norte están cubiertas de nieve en invierno."),
        ("it", "Ventitré, quarantuno, novecentosei, mille e cento."),
    ]

    @Test func int8MatchesFP32OnSpeech() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("int8-speech-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fp32Engine = try GEMMEngine(backend: .onednn)
        let int8Engine = try GEMMEngine(backend: .onednn, precision: .int8)
        let model = try ModelDirectory.load(
            URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("models/m2d-small-debian").path)
        let fp32 = AudioEmbedder(weights: model.weights, engine: fp32Engine)
        let int8 = AudioEmbedder(weights: model.weights, engine: int8Engine)
        var worstClip = 1.0, worstFrame = 1.0
        for (i, u) in Self.utterances.enumerated() {
            let wav = dir.appendingPathComponent("u\(i).wav").path
            let speak = Process()
            speak.executableURL = URL(fileURLWithPath: "/usr/bin/espeak-ng")
            speak.arguments = ["-v", u.voice, "-w", wav, u.text]
            try #require(
                FileManager.default.isExecutableFile(atPath: "/usr/bin/espeak-ng"), "make deps installs espeak-ng")
            try speak.run()
            speak.waitUntilExit()
            try #require(speak.terminationStatus == 0, "espeak-ng -v \(u.voice) failed")
            let samples = try AudioPipeline.prepare(Fixtures.bytes(wav), sampleRate: 16000)
                .samples
            let a = try fp32.embed(samples), b = try int8.embed(samples)
            try #require(a.frameCount == b.frameCount && a.frameCount > 10)
            worstClip = min(worstClip, Numerics.cosine(b.clip[...], a.clip[...]))
            for f in 0..<a.frameCount { worstFrame = min(worstFrame, Numerics.cosine(b.frame(f), a.frame(f))) }
        }
        #expect(worstClip >= 0.999, "int8 vs fp32 worst clip cosine \(worstClip)")
        #expect(worstFrame >= 0.995, "int8 vs fp32 worst frame cosine \(worstFrame)")
    }
}
