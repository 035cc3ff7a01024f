// Decoding real files of every accepted format (fixtures made by scripts/make-audio-fixtures.sh)
// and every typed error.
import Foundation
import M2DAudio
import Testing
import TestSupport

/// Amplitude of `frequency` in `x` (single-bin DFT with a Hann window, scaled for a sine).
func toneAmplitude(_ x: [Float], rate: Int, frequency: Double) -> Double {
    var re = 0.0, im = 0.0, wsum = 0.0
    let n = x.count
    for i in 0..<n {
        let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))
        let a = 2 * Double.pi * frequency * Double(i) / Double(rate)
        re += w * Double(x[i]) * cos(a); im += w * Double(x[i]) * sin(a); wsum += w
    }
    return 2 * (re * re + im * im).squareRoot() / wsum
}

@Suite struct DecoderTests {
    static let formats: [(file: String, format: String, rate: Int)] = [
        ("pcm_u8.wav", "WAV/", 44100), ("pcm_16.wav", "WAV/", 44100), ("pcm_24.wav", "WAV/", 44100),
        ("pcm_32.wav", "WAV/", 44100), ("float_32.wav", "WAV/", 44100), ("tone.flac", "FLAC/", 44100),
        ("tone_vorbis.ogg", "OGG/", 44100), ("tone.opus", "OGG/", 48000), ("tone.mp3", "MP3/", 44100),
        ("tone.aiff", "AIFF/", 44100),
    ]

    @Test(arguments: formats.map(\.file))
    func decodesEachFormat(_ file: String) throws {
        let spec = Self.formats.first { $0.file == file }!
        let audio = try AudioDecoder().decode(Fixtures.bytes(Fixtures.audio + "/" + file))
        #expect(audio.channels == 2)
        #expect(audio.sampleRate == spec.rate)
        #expect(audio.format.uppercased().hasPrefix(spec.format), "format \(audio.format)")
        // 0.75 s; lossy codecs add a little priming/padding.
        #expect(abs(audio.durationSeconds - 0.75) < 0.06, "duration \(audio.durationSeconds)")
        let left = stride(from: 0, to: audio.samples.count, by: 2).map { audio.samples[$0] }
        let right = stride(from: 1, to: audio.samples.count, by: 2).map { audio.samples[$0] }
        // -6 dBFS = 0.501 amplitude; lossy codecs and 8-bit stay within 0.5 dB.
        let l440 = toneAmplitude(left, rate: audio.sampleRate, frequency: 440)
        let r660 = toneAmplitude(right, rate: audio.sampleRate, frequency: 660)
        #expect(abs(20 * log10(l440 / 0.501)) < 0.5, "left 440 Hz amplitude \(l440)")
        #expect(abs(20 * log10(r660 / 0.501)) < 0.5, "right 660 Hz amplitude \(r660)")
        #expect(toneAmplitude(left, rate: audio.sampleRate, frequency: 660) < 0.02)
    }

    @Test func downmixesByMeanAndResamples() throws {
        let prepared = try AudioPipeline.prepare(Fixtures.bytes(Fixtures.audio + "/pcm_16.wav"), sampleRate: 16000)
        #expect(prepared.sampleRate == 16000 && prepared.inputSampleRate == 44100 && prepared.inputChannels == 2)
        #expect(abs(prepared.samples.count - 12000) <= 1)
        #expect(abs(toneAmplitude(prepared.samples, rate: 16000, frequency: 440) - 0.2505) < 0.01)
        #expect(abs(toneAmplitude(prepared.samples, rate: 16000, frequency: 660) - 0.2505) < 0.01)
    }

    @Test func emptyInput() {
        #expect(throws: AudioError.empty) { try AudioDecoder().decode([]) }
    }

    @Test func randomBytesAreUndecodable() {
        var rng = SystemRandomNumberGenerator()
        let junk = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }
        #expect {
            try AudioDecoder().decode(junk)
        } throws: { error in
            if case AudioError.undecodable = error { return true }
            return false
        }
    }

    @Test func truncatedWavIsReported() {
        let bytes = Fixtures.bytes(Fixtures.audio + "/pcm_16.wav")
        #expect {
            try AudioDecoder().decode(Array(bytes.prefix(bytes.count / 2)))
        } throws: { error in
            if case AudioError.truncated = error { return true }
            return false
        }
    }

    @Test func truncatedFlacIsAnError() {
        let bytes = Fixtures.bytes(Fixtures.audio + "/tone.flac")
        #expect(throws: AudioError.self) { try AudioDecoder().decode(Array(bytes.prefix(bytes.count / 2))) }
    }

    @Test func headerOnlyWavIsEmptyOrTruncated() {
        let bytes = Fixtures.bytes(Fixtures.audio + "/pcm_16.wav")
        #expect(throws: AudioError.self) { try AudioDecoder().decode(Array(bytes.prefix(44))) }
    }

    @Test func overLongAudioIsRefusedFromTheHeader() throws {
        let bytes = Fixtures.bytes(Fixtures.audio + "/three_seconds.wav")
        #expect(throws: AudioError.tooLong(seconds: 3, limitSeconds: 2)) {
            try AudioDecoder().decode(bytes, maxSeconds: 2)
        }
        #expect(try AudioDecoder().decode(bytes, maxSeconds: 4).frames == 48000)
        #expect(try AudioDecoder().header(of: bytes).frames == 48000)
    }

    @Test func tooManyChannels() {
        #expect(throws: AudioError.tooManyChannels(channels: 10, limit: 8)) {
            try AudioDecoder().decode(Fixtures.bytes(Fixtures.audio + "/ten_channels.wav"))
        }
    }

    @Test func nonFiniteSamplesAreRejected() throws {
        let wav = WavWriter.float32(samples: [0.1, .nan, 0.2, 0.3], rate: 16000)
        #expect(throws: AudioError.nonFiniteSamples) { try AudioDecoder().decode(wav) }
        let inf = WavWriter.float32(samples: [0.1, .infinity, 0.2, 0.3], rate: 16000)
        #expect(throws: AudioError.nonFiniteSamples) { try AudioDecoder().decode(inf) }
    }

    @Test func errorMessagesNameTheProblem() {
        #expect("\(AudioError.tooLong(seconds: 912.4, limitSeconds: 600))".contains("912.4 s"))
        #expect("\(AudioError.undecodable(reason: "x"))".contains("WAV (PCM 8/16/24/32-bit, float), FLAC"))
    }
}

/// Minimal IEEE-float WAV writer for tests that need exact sample values.
enum WavWriter {
    static func float32(samples: [Float], rate: Int, channels: Int = 1) -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out += $0 } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { out += $0 } }
        let dataBytes = samples.count * 4
        out += Array("RIFF".utf8); u32(36 + dataBytes); out += Array("WAVE".utf8)
        out += Array("fmt ".utf8); u32(16); u16(3); u16(channels); u32(rate); u32(rate * channels * 4);
        u16(channels * 4); u16(32)
        out += Array("data".utf8); u32(dataBytes)
        for s in samples { withUnsafeBytes(of: s.bitPattern.littleEndian) { out += $0 } }
        return out
    }
}
