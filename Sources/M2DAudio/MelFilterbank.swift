// MelFilterbank: Slaney-scale, Slaney-normalised triangles (librosa 0.7 `mel`, as cloned in
// nnAudio librosa_functions.get_mel), built in Double and stored in Float (docs/NUMERICS.md §1.3).
import Foundation
import M2DTensor

public enum MelFilterbank {
    static func hzToMel(_ f: Double) -> Double {
        let fSp = 200.0 / 3
        let minLogHz = 1000.0, minLogMel = minLogHz / fSp, logStep = _log(6.4) / 27
        return f >= minLogHz ? minLogMel + _log(f / minLogHz) / logStep : f / fSp
    }

    static func melToHz(_ m: Double) -> Double {
        let fSp = 200.0 / 3
        let minLogHz = 1000.0, minLogMel = minLogHz / fSp, logStep = _log(6.4) / 27
        return m >= minLogMel ? minLogHz * _exp(logStep * (m - minLogMel)) : fSp * m
    }

    /// The (nMels, nFFT/2+1) filterbank, row m = mel band m (0 = lowest).
    public static func make(_ config: FrontEndConfig) -> FloatBuffer {
        let bins = config.bins, nMels = config.nMels
        let fftFreqs = (0..<bins).map { Double($0) * (Double(config.sampleRate) / 2) / Double(bins - 1) }
        let lo = hzToMel(config.fMin), hi = hzToMel(config.fMax)
        let melF = (0..<(nMels + 2)).map { melToHz(lo + (hi - lo) * Double($0) / Double(nMels + 1)) }
        let out = FloatBuffer(count: nMels * bins)
        for m in 0..<nMels {
            let lowerWidth = melF[m + 1] - melF[m], upperWidth = melF[m + 2] - melF[m + 1]
            let enorm = 2.0 / (melF[m + 2] - melF[m])
            for j in 0..<bins {
                let lower = -(melF[m] - fftFreqs[j]) / lowerWidth
                let upper = (melF[m + 2] - fftFreqs[j]) / upperWidth
                // numpy stores the triangle in float32, then multiplies by the float64 norm.
                let triangle = Float(max(0, min(lower, upper)))
                out.pointer[m * bins + j] = Float(Double(triangle) * enorm)
            }
        }
        return out
    }
}

@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _exp(_ x: Double) -> Double { Foundation.exp(x) }
