// LogMelFrontEnd: waveform -> ln(mel power + eps), exactly nnAudio's MelSpectrogram as M2D uses it
// (docs/NUMERICS.md §1.2-1.4): reflect pad n_fft/2, periodic Hann, direct DFT as one GEMM of frames against
// a windowed [cos | sin] basis, power, Slaney mel, natural log with eps added. Normalisation is
// separate (`normalize`). Owns its tables; no global caches.
import Foundation
import M2DTensor

public final class LogMelFrontEnd: @unchecked Sendable {
    // SAFETY: tables are written once in init and only read afterwards.
    public let config: FrontEndConfig
    /// (nFFT, 2*bins): column k = window * cos_k, column bins + k = window * sin_k.
    private let basis: FloatBuffer
    /// (nMels, bins).
    public let melBasis: FloatBuffer
    public static let logEpsilon: Float = 1.1920929e-07
    /// Frames per block: the frame and spectrum matrices of one block are the only scratch, so
    /// memory does not grow with the clip (a 600 s clip would otherwise need 190 MB of them).
    public let blockFrames: Int

    public init(_ config: FrontEndConfig, blockFrames: Int = 512) {
        self.config = config
        self.blockFrames = max(1, blockFrames)
        let n = config.nFFT, bins = config.bins
        basis = FloatBuffer(count: n * 2 * bins)
        for s in 0..<n {
            // scipy get_window('hann', n, fftbins=True): periodic, computed in float64, cast to float32.
            let window = Float(0.5 - 0.5 * cos(2 * Double.pi * Double(s) / Double(n)))
            for k in 0..<bins {
                let angle = 2 * Double.pi * Double(k) * Double(s) / Double(n)
                basis.pointer[s * 2 * bins + k] = Float(cos(angle)) * window
                basis.pointer[s * 2 * bins + bins + k] = Float(sin(angle)) * window
            }
        }
        melBasis = MelFilterbank.make(config)
    }

    /// Log-mel (nMels, T) of mono `samples` at config.sampleRate, T = floor(N/hop) + 1, unnormalised.
    /// Requires N >= n_fft/2 + 1 (callers pad shorter clips).
    public func logMel(_ samples: UnsafeBufferPointer<Float>) -> FloatBuffer {
        let n = config.nFFT, hop = config.hopLength, bins = config.bins, mels = config.nMels
        let count = samples.count
        precondition(
            count >= config.minimumSamples, "front end needs at least \(config.minimumSamples) samples, got \(count)")
        let pad = n / 2
        let frames = config.frameCount(samples: count)
        let block = min(frames, blockFrames)
        let frameMatrix = FloatBuffer(count: block * n)
        let spectrum = FloatBuffer(count: block * 2 * bins)
        let melT = FloatBuffer(count: block * mels)
        let out = FloatBuffer(count: mels * frames)
        let x = samples.baseAddress!
        var first = 0
        while first < frames {
            let rows = min(block, frames - first)
            // Frame t starts at t*hop - n/2 of the signal reflect-padded by n/2 at both ends.
            for r in 0..<rows {
                let start = (first + r) * hop - pad, row = frameMatrix.pointer + r * n
                if start >= 0 && start + n <= count {
                    row.update(from: x + start, count: n)
                } else {
                    for s in 0..<n {
                        let i = start + s
                        row[s] = x[i < 0 ? -i : i >= count ? 2 * (count - 1) - i : i]
                    }
                }
            }
            BLAS.gemm(
                M: rows, N: 2 * bins, K: n, a: frameMatrix.pointer, lda: n, b: basis.pointer, ldb: 2 * bins,
                c: spectrum.pointer, ldc: 2 * bins)
            // Power into the first half of each row (in place: bin k only reads k and bins + k).
            for t in 0..<rows {
                let row = spectrum.pointer + t * 2 * bins
                for k in 0..<bins {
                    let re = row[k], im = row[bins + k]
                    let magnitude = (re * re + im * im).squareRoot()
                    row[k] = magnitude * magnitude
                }
            }
            BLAS.gemm(
                transB: .transposed, M: rows, N: mels, K: bins, a: spectrum.pointer, lda: 2 * bins,
                b: melBasis.pointer, ldb: bins, c: melT.pointer, ldc: mels)
            for t in 0..<rows {
                for m in 0..<mels {
                    out.pointer[m * frames + first + t] = logf(melT.pointer[t * mels + m] + Self.logEpsilon)
                }
            }
            first += rows
        }
        return out
    }

    public func logMel(_ samples: [Float]) -> FloatBuffer {
        samples.withUnsafeBufferPointer { logMel($0) }
    }

    /// In place: x <- (x - mean) / std over `count` floats (float32 arithmetic, as torch).
    public static func normalize(_ x: UnsafeMutablePointer<Float>, count: Int, mean: Float, std: Float) {
        for i in 0..<count { x[i] = (x[i] - mean) / std }
    }
}
