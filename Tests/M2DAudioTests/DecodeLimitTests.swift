// Hostile and heavy headers: limits are checked before decoding, decoding stops at them, and the
// streamed pipeline gives exactly the samples of decoding whole and resampling in one shot.
import Foundation
import M2DAudio
import Testing
import TestSupport

@Suite struct DecodeLimitTests {
    /// A 16-bit PCM WAV of `frames` frames of a slow sine on every channel.
    static func wav(rate: Int, channels: Int, frames: Int) -> [UInt8] {
        var samples = [Float](repeating: 0, count: frames * channels)
        for i in samples.indices { samples[i] = Float(sin(Double(i) * 0.01)) * 0.3 }
        return WavEncoder.pcm16(samples, sampleRate: rate, channels: channels)
    }

    @Test(arguments: [8000, 22050, 44100, 48000, 96000])
    func streamedPipelineEqualsOneShot(rate: Int) throws {
        let frames = Int(Double(rate) * 1.37)
        let bytes = Self.wav(rate: rate, channels: 2, frames: frames)
        let streamed = try AudioPipeline.prepare(bytes, sampleRate: 16000)
        let whole = try AudioPipeline.prepare(try AudioDecoder().decode(bytes), sampleRate: 16000)
        #expect(streamed.samples == whole.samples, "rate \(rate): \(streamed.samples.count) vs \(whole.samples.count)")
        #expect(streamed.inputSampleRate == rate && streamed.inputChannels == 2)
    }

    @Test func absurdSampleRateIsRefusedFromTheHeader() throws {
        let bytes = Self.wav(rate: 1_048_575, channels: 2, frames: 1000)
        #expect(throws: AudioError.sampleRateTooHigh(rate: 1_048_575, limit: 384_000)) {
            try AudioPipeline.prepare(bytes, sampleRate: 16000)
        }
    }

    @Test func absurdFlacHeaderIsRefusedBeforeAnySampleIsDecoded() throws {
        // The attack of the hardening issue: 343 KB that claim 1,048,575 Hz x 8 channels x 600 s.
        let bomb = TestAudio.flacClaiming(rate: 1_048_575, channels: 8, seconds: 600)
        #expect(throws: AudioError.sampleRateTooHigh(rate: 1_048_575, limit: 384_000)) {
            try AudioPipeline.prepare(bomb, sampleRate: 16000, maxSeconds: 600)
        }
    }

    @Test func sampleBudgetIsCheckedFromTheHeaderAndWhileDecoding() throws {
        // The header claims 10 s of 8 channels at 48 kHz: over a 1 M sample budget before decoding.
        let claimed = TestAudio.flacClaiming(rate: 48000, channels: 8, seconds: 10)
        let limits = DecodeLimits(maxSeconds: 600, maxDecodedSamples: 1_000_000)
        #expect(throws: AudioError.tooManySamples(samples: 3_840_000, limit: 1_000_000)) {
            try AudioPipeline.prepare(claimed, sampleRate: 16000, limits: limits)
        }
        // A streamed WAV declares no length: decoding stops at the budget.
        var streamed = Self.wav(rate: 48000, channels: 8, frames: 200_000)
        for i in 40..<44 { streamed[i] = 0xFF }
        #expect {
            try AudioPipeline.prepare(streamed, sampleRate: 16000, limits: limits)
        } throws: { error in
            if case let AudioError.tooManySamples(samples, limit) = error {
                return limit == 1_000_000 && samples > limit
            }
            return false
        }
    }

    @Test func lengthClaimsAreCheckedBeforeDecoding() throws {
        let bytes = TestAudio.flacClaiming(rate: 44100, channels: 2, seconds: 700)
        #expect(throws: AudioError.tooLong(seconds: 700, limitSeconds: 600)) {
            try AudioPipeline.prepare(bytes, sampleRate: 16000, maxSeconds: 600)
        }
    }

    @Test func formatTableRecognisesEveryFixture() throws {
        let expected: [String: AudioFormat] = [
            "pcm_16.wav": .wav, "tone.flac": .flac, "tone_vorbis.ogg": .ogg, "tone.opus": .ogg, "tone.mp3": .mp3,
            "tone.aiff": .aiff,
        ]
        for (file, format) in expected {
            #expect(AudioFormat.sniff(Fixtures.bytes(Fixtures.audio + "/" + file)) == format, "\(file)")
            #expect(AudioFormat.isAudioFile("a/b/" + file.uppercased()), "\(file)")
        }
        #expect(!AudioFormat.isAudioFile("notes.txt") && !AudioFormat.isAudioFile("dir.wav/readme"))
        #expect(AudioFormat.refusedContainer([0, 0, 0, 0x20] + Array("ftypM4A ".utf8)) == "MP4/M4A/AAC")
        #expect(AudioFormat.mediaTypes.contains("audio/x-flac") && AudioFormat.summary.contains("Opus"))
    }
}
