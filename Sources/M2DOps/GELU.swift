import Foundation
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

extension GELU {
    /// Backward of the exact GELU (accumulates): dInput += dOut * (Phi(x) + x * phi(x)),
    /// Phi the normal CDF 0.5 (1 + erf(x / sqrt 2)), phi the normal density. Shapes: (n).
    public static func backward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        let invSqrt2Pi: Float = 0.3989422804014327
        Parallel.forRanges(count, grain: 32768) { range in
            for i in range {
                let x = input[i]
                let cdf = 0.5 * (1 + erff(x * 0.70710678118654752))
                let pdf = invSqrt2Pi * expf(-0.5 * x * x)
                dInput[i] += dOut[i] * (cdf + x * pdf)
            }
        }
    }
}
