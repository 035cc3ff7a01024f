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
