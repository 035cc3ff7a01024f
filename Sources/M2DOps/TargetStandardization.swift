// The per-token target standardization shared by the M2D and MAE losses (norm_pix_loss):
// (x - mean) / sqrt(var + 1e-6) over the token's values, with the unbiased variance of torch.var.

enum TargetStandardization {
    /// out (n) = standardized x (n), accumulated in Double.
    static func row(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int) {
        var mean = 0.0
        for d in 0..<n { mean += Double(x[d]) }
        mean /= Double(n)
        var variance = 0.0
        for d in 0..<n { let e = Double(x[d]) - mean; variance += e * e }
        variance /= Double(n - 1)
        let inv = 1 / (variance + 1e-6).squareRoot()
        for d in 0..<n { out[d] = Float((Double(x[d]) - mean) * inv) }
    }
}
