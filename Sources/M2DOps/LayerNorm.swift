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
        Parallel.forRanges(rows, grain: 16) { range in
            for r in range {
                let x = input + r * cols
                let mu = VectorMath.sum(x, count: cols) / n
                let sq = VectorMath.sumOfSquares(x, count: cols, minus: mu)
                let rs = 1 / (sq / n + eps).squareRoot()
                let y = out + r * cols
                var c = 0
                while c + 8 <= cols {
                    let v = UnsafeRawPointer(x + c).loadUnaligned(as: VectorMath.V.self)
                    let g = UnsafeRawPointer(weight + c).loadUnaligned(as: VectorMath.V.self)
                    let b = UnsafeRawPointer(bias + c).loadUnaligned(as: VectorMath.V.self)
                    UnsafeMutableRawPointer(y + c).storeBytes(of: (v - mu) * rs * g + b, as: VectorMath.V.self)
                    c += 8
                }
                while c < cols { y[c] = (x[c] - mu) * rs * weight[c] + bias[c]; c += 1 }
                mean?[r] = mu
                rstd?[r] = rs
            }
        }
    }
}

extension LayerNorm {
    /// Backward of `forward` (accumulates): with xhat = (x - mean) * rstd and g = dOut * weight,
    /// dInput += rstd * (g - mean(g) - xhat * mean(g * xhat)), dWeight += sum_rows dOut * xhat,
    /// dBias += sum_rows dOut. Shapes: dOut/input/dInput (R,C), weight/dWeight/dBias (C), mean/rstd (R).
    public static func backward(
        dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
        dBias: UnsafeMutablePointer<Float>?,
        dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, cols: Int
    ) {
        // Rows are independent for dInput; dWeight and dBias sum over rows, so they are split by
        // column instead, and every thread owns its columns.
        if let dInput {
            Parallel.forRanges(rows, grain: 16) { range in
                for r in range {
                    let x = input + r * cols, dy = dOut + r * cols, dx = dInput + r * cols
                    let mu = mean[r], rs = rstd[r]
                    var meanG: Float = 0, meanGX: Float = 0
                    for c in 0..<cols {
                        let xhat = (x[c] - mu) * rs, g = dy[c] * weight[c]
                        meanG += g
                        meanGX += g * xhat
                    }
                    meanG /= Float(cols)
                    meanGX /= Float(cols)
                    for c in 0..<cols {
                        let xhat = (x[c] - mu) * rs
                        dx[c] += rs * (dy[c] * weight[c] - meanG - xhat * meanGX)
                    }
                }
            }
        }
        guard dWeight != nil || dBias != nil else { return }
        Parallel.forRanges(cols, grain: 64) { columns in
            for r in 0..<rows {
                let x = input + r * cols, dy = dOut + r * cols
                let mu = mean[r], rs = rstd[r]
                for c in columns {
                    dWeight?[c] += dy[c] * ((x[c] - mu) * rs)
                    dBias?[c] += dy[c]
                }
            }
        }
    }
}
