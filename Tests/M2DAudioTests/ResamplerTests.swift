// soxr resampling: 44.1 and 48 kHz sines land at 16 kHz at the right frequency and level, and
// content above 8 kHz does not alias back into the band.
import Foundation
import M2DAudio
import Testing

@Suite struct ResamplerTests {
    func sine(_ f: Double, rate: Int, seconds: Double, amplitude: Double) -> [Float] {
        (0..<Int(Double(rate) * seconds)).map { Float(amplitude * sin(2 * Double.pi * f * Double($0) / Double(rate))) }
    }

    @Test(arguments: [44100, 48000])
    func sineKeepsFrequencyAndLevel(rate: Int) throws {
        let input = sine(1000, rate: rate, seconds: 1, amplitude: 0.5)
        let out = try Resampler.resample(input, from: rate, to: 16000)
        #expect(abs(out.count - 16000) <= 1)
        let core = Array(out[1000..<15000])  // away from the edges
        let level = toneAmplitude(core, rate: 16000, frequency: 1000)
        #expect(abs(20 * log10(level / 0.5)) < 0.1, "level \(level)")
        // Peak frequency: the 1 kHz bin beats its neighbours at +-20 Hz.
        #expect(level > 10 * toneAmplitude(core, rate: 16000, frequency: 1020))
        #expect(level > 10 * toneAmplitude(core, rate: 16000, frequency: 980))
    }

    @Test(arguments: [44100, 48000])
    func noAliasAbove8kHz(rate: Int) throws {
        // 12 kHz would alias to 4 kHz, 9 kHz to 7 kHz; both must stay below -60 dB.
        let a = sine(12000, rate: rate, seconds: 1, amplitude: 0.5),
            b = sine(9000, rate: rate, seconds: 1, amplitude: 0.5)
        let out = try Resampler.resample(zip(a, b).map { $0 + $1 }, from: rate, to: 16000)
        let core = Array(out[1000..<15000])
        for alias in [4000.0, 7000.0] {
            let level = toneAmplitude(core, rate: 16000, frequency: alias)
            #expect(20 * log10(level / 0.5 + 1e-12) < -60, "alias at \(alias) Hz: \(20 * log10(level / 0.5)) dB")
        }
        var peak: Float = 0
        for s in core { peak = max(peak, abs(s)) }
        #expect(20 * log10(Double(peak) / 0.5 + 1e-12) < -60, "residual peak \(peak)")
    }

    @Test func identityAtSameRate() throws {
        let x: [Float] = [0.1, -0.2, 0.3]
        #expect(try Resampler.resample(x, from: 16000, to: 16000) == x)
    }
}
