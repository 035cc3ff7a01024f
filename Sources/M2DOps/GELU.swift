import M2DTensor

// GELU, exact erf form (torch.nn.GELU default): 0.5 * x * (1 + erf(x / sqrt 2)).

public enum GELU {
    /// In place over `count` floats: x <- gelu(x). Callers that need backward keep the input.
    public static func forwardInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count, grain: 32768) { range in
            VectorMath.map(x + range.lowerBound, count: range.count) { v in
                0.5 * v * (1 + VectorMath.erf(v * 0.70710678118654752))
            }
        }
    }

    /// out (n) = gelu(input (n)).
    public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        if UnsafePointer(out) != input { out.update(from: input, count: count) }
        forwardInPlace(out, count: count)
    }
}
