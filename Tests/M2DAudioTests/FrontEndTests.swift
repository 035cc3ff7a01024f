// Front end: the spec's check values for the mel filterbank (16k and 32k), frame counts, and
// reflect padding / periodic window against an independent float64 reference.
import Foundation
import M2DAudio
import M2DTensor
import Testing
import TestSupport

@Suite struct FrontEndTests {
    @Test func melFilterbank16kCheckValues() {
        let fb = MelFilterbank.make(.m2d16k)
        let bins = 201
        func row(_ m: Int) -> [Float] { Array(UnsafeBufferPointer(start: fb.pointer + m * bins, count: bins)) }
        let r0 = row(0)
        #expect(r0.indices.filter { r0[$0] != 0 } == [2, 3])
        #expect(abs(r0[2] - 0.0223686) < 1e-7 && abs(r0[3] - 0.00241868) < 1e-8)
        for (m, s) in [(0, 0.02478729), (1, 0.02488736), (2, 0.02720597)] {
            #expect(abs(Double(row(m).reduce(0, +)) - s) < 1e-7, "row \(m) sum")
        }
        #expect(row(1).indices.filter { row(1)[$0] != 0 } == [3])
        let r79 = row(79).indices.filter { row(79)[$0] != 0 }
        #expect(r79.first == 186 && r79.last == 199)
        #expect((0..<80).allSatisfy { row($0).contains { $0 > 0 } })
    }

    @Test func melFilterbank32kCheckValues() {
        let fb = MelFilterbank.make(.m2d32k)
        let r0 = Array(UnsafeBufferPointer(start: fb.pointer, count: 401))
        #expect(r0.indices.filter { r0[$0] != 0 } == [2, 3])
        #expect(abs(r0[2] - 0.01486778) < 1e-7 && abs(r0[3] - 0.00983233) < 1e-7)
    }

    @Test(arguments: [(160000, 1001), (97120, 608), (97600, 611), (201, 2), (8000, 51)])
    func frameCount(samples: Int, frames: Int) {
        let fe = LogMelFrontEnd(.m2d16k)
        #expect(fe.logMel([Float](repeating: 0.01, count: samples)).count == 80 * frames)
    }

    @Test func silenceIsLogEpsilon() {
        let out = LogMelFrontEnd(.m2d16k).logMel([Float](repeating: 0, count: 1600)).toArray()
        #expect(out.allSatisfy { abs($0 - -15.942385) < 1e-5 })
    }

    /// Independent float64 reference: reflect pad, periodic Hann, direct DFT, mel, log.
    func reference(_ x: [Float], _ config: FrontEndConfig) -> [Double] {
        let n = config.nFFT, hop = config.hopLength, bins = config.bins, pad = n / 2
        let xp: [Double] = (0..<(x.count + 2 * pad)).map { i in
            let j = i - pad
            let k = j < 0 ? -j : (j >= x.count ? 2 * (x.count - 1) - j : j)
            return Double(x[k])
        }
        let fb = MelFilterbank.make(config)
        let frames = x.count / hop + 1
        var out = [Double](repeating: 0, count: config.nMels * frames)
        for t in 0..<frames {
            var power = [Double](repeating: 0, count: bins)
            for k in 0..<bins {
                var re = 0.0, im = 0.0
                for s in 0..<n {
                    let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(s) / Double(n))
                    let a = 2 * Double.pi * Double(k * s) / Double(n)
                    re += xp[t * hop + s] * w * cos(a); im += xp[t * hop + s] * w * sin(a)
                }
                power[k] = re * re + im * im
            }
            for m in 0..<config.nMels {
                var mel = 0.0
                for k in 0..<bins { mel += Double(fb.pointer[m * bins + k]) * power[k] }
                out[m * frames + t] = log(mel + 1.1920929e-07)
            }
        }
        return out
    }

    @Test(arguments: [FrontEndConfig.m2d16k, .m2d32k])
    func matchesFloat64Reference(config: FrontEndConfig) {
        var rng = SystemRandomNumberGenerator()
        let x = (0..<(config.sampleRate / 20)).map { i in
            Float(0.3 * sin(Double(i) * 0.07)) + Float.random(in: -0.1...0.1, using: &rng)
        }
        let ours = LogMelFrontEnd(config).logMel(x).toArray()
        let ref = reference(x, config)
        let cmp = Numerics.compare("logmel", ours, ref.map { Float($0) }, atol: 2e-4, rtol: 1e-5)
        #expect(cmp.violations == 0, "\(cmp)")
    }

    /// The front end works in blocks of frames so its scratch stays small; every block boundary,
    /// and the reflect-padded edges, give the values of one whole-clip pass.
    @Test func blockedFrontEndEqualsOneBlock() {
        var rng = Rng(seed: 7)
        let samples = (0..<(160 * 1333 + 77)).map { _ in Float(rng.normal() * 0.2) }
        let blocked = LogMelFrontEnd(.m2d16k, blockFrames: 97).logMel(samples)
        let whole = LogMelFrontEnd(.m2d16k, blockFrames: 1_000_000).logMel(samples)
        #expect(blocked.count == whole.count)
        // BLAS picks kernels by matrix height, so values may differ in their last bits; the
        // golden tests hold the front end to the official numbers either way.
        let cmp = Numerics.compare(
            "blocked vs one block", Array(UnsafeBufferPointer(start: blocked.pointer, count: blocked.count)),
            Array(UnsafeBufferPointer(start: whole.pointer, count: whole.count)), atol: 1e-4, rtol: 1e-6)
        #expect(cmp.violations == 0 && cmp.nmse < 1e-12, "\(cmp)")
    }
}
