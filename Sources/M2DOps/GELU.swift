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
    public static func backward(
        dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, count: Int
    ) {
        typealias V = VectorMath.V
        let invSqrt2Pi: Float = 0.3989422804014327
        @inline(__always) func slope(_ x: V) -> V {
            let cdf = 0.5 * (1 + VectorMath.erf(x * 0.70710678118654752))
            return cdf + x * (invSqrt2Pi * VectorMath.exp(-0.5 * x * x))
        }
        Parallel.forRanges(count, grain: 32768) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let x = UnsafeRawPointer(input + i).loadUnaligned(as: V.self)
                let dy = UnsafeRawPointer(dOut + i).loadUnaligned(as: V.self)
                let dx = UnsafeMutableRawPointer(dInput + i)
                dx.storeBytes(of: dx.loadUnaligned(as: V.self) + dy * slope(x), as: V.self)
                i += 8
            }
            if i < range.upperBound {
                var x = V(repeating: 0)
                for j in i..<range.upperBound { x[j - i] = input[j] }
                let s = slope(x)
                for j in i..<range.upperBound { dInput[j] += dOut[j] * s[j - i] }
            }
        }
    }
}
