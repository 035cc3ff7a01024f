import M2DTensor

// LayerNorm over the last dimension, biased variance (torch.nn.LayerNorm, eps 1e-6 in M2D).

public enum LayerNorm {
    /// out (R,C) = (input - mean) * rstd * weight + bias, row by row.
    /// input (R,C), weight (C), bias (C); mean (R) and rstd (R) are saved for backward when non-nil.
    /// Mirrors torch.nn.functional.layer_norm. out may alias input.
    public static func forward(
        out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>? = nil,
        rstd: UnsafeMutablePointer<Float>? = nil,
        input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        rows: Int, cols: Int, eps: Float = 1e-6
    ) {
        let n = Float(cols)
        Parallel.forRanges(rows, grain: 16) { range in for r in range {
            let x = input + r * cols
            var sum: Float = 0
            for c in 0..<cols { sum += x[c] }
            let mu = sum / n
            var sq: Float = 0
            for c in 0..<cols { let d = x[c] - mu; sq += d * d }
            let rs = 1 / (sq / n + eps).squareRoot()
            let y = out + r * cols
            for c in 0..<cols { y[c] = (x[c] - mu) * rs * weight[c] + bias[c] }
            mean?[r] = mu
            rstd?[r] = rs
        } }
    }
}

extension LayerNorm {
    /// Backward of `forward` (accumulates): with xhat = (x - mean) * rstd and g = dOut * weight,
    /// dInput += rstd * (g - mean(g) - xhat * mean(g * xhat)), dWeight += sum_rows dOut * xhat,
    /// dBias += sum_rows dOut. Shapes: dOut/input/dInput (R,C), weight/dWeight/dBias (C), mean/rstd (R).
    public static func backward(
        dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
        dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, cols: Int
    ) {
        for r in 0..<rows {
            let x = input + r * cols, dy = dOut + r * cols
            let mu = mean[r], rs = rstd[r]
            var meanG: Float = 0, meanGX: Float = 0
            for c in 0..<cols {
                let xhat = (x[c] - mu) * rs, g = dy[c] * weight[c]
                meanG += g
                meanGX += g * xhat
                dWeight?[c] += dy[c] * xhat
                dBias?[c] += dy[c]
            }
            meanG /= Float(cols)
            meanGX /= Float(cols)
            if let dInput {
                let dx = dInput + r * cols
                for c in 0..<cols {
                    let xhat = (x[c] - mu) * rs
                    dx[c] += rs * (dy[c] * weight[c] - meanG - xhat * meanGX)
                }
            }
        }
    }
}
