// VectorMath: vectorised exp and erf over Float runs. libm's scalar expf/erff cost ~15% of an
// encoder forward; these SIMD versions are accurate to a few ulp (tests compare them with libm).
import Foundation

public enum VectorMath {
    public typealias V = SIMD8<Float>

    /// e^x, Cephes polynomial after range reduction; |rel err| < 3e-7 on [-87, 88].
    /// Rounding uses the 1.5 * 2^23 trick so every step stays a plain vector instruction.
    @inline(__always)
    public static func exp(_ x: V) -> V {
        let x = clamp(x, -87.3, 88.3)
        let magic = V(repeating: 12_582_912)
        let shifted = x * 1.44269504088896341 + magic
        let n = shifted - magic
        var r = x - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        let ni = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        return p * unsafeBitCast((ni &+ 127) &<< 23, to: V.self)
    }

    /// Lane-wise clamp. The stdlib's pointwiseMin/Max are out-of-line per-lane loops (NaN-aware);
    /// compare-and-select compiles to a few vector instructions.
    @inline(__always)
    static func clamp(_ x: V, _ lo: Float, _ hi: Float) -> V {
        let low = x.replacing(with: lo, where: x .< lo)
        return low.replacing(with: hi, where: low .> hi)
    }

    /// Lane-wise max of a and b, as compare-and-select (see clamp).
    @inline(__always)
    public static func maximum(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .> a) }

    /// erf(x), the rational approximation used by Eigen/XLA (clamped to [-4, 4], a few ulp).
    @inline(__always)
    public static func erf(_ x: V) -> V {
        let x = clamp(x, -4, 4)
        let x2 = x * x
        var p = V(repeating: -2.72614225801306e-10)
        p = p * x2 + 2.77068142495902e-08
        p = p * x2 - 2.10102402082508e-06
        p = p * x2 - 5.69250639462346e-05
        p = p * x2 - 7.34990630326855e-04
        p = p * x2 - 2.95459980854025e-03
        p = p * x2 - 1.60960333262415e-02
        p = p * x
        var q = V(repeating: -1.45660718464996e-05)
        q = q * x2 - 2.13374055278905e-04
        q = q * x2 - 1.68282697438203e-03
        q = q * x2 - 7.37332916720468e-03
        q = q * x2 - 1.42647390514189e-02
        return p / q
    }

    /// The sum of `count` floats, accumulated in SIMD8 lanes.
    @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = V(repeating: 0), i = 0
        while i + 8 <= count { acc += UnsafeRawPointer(x + i).loadUnaligned(as: V.self); i += 8 }
        var s = acc.sum()
        while i < count { s += x[i]; i += 1 }
        return s
    }

    /// Sum over i of (x[i] - shift)^2, accumulated in SIMD8 lanes.
    @inline(__always)
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int, minus shift: Float) -> Float {
        var acc = V(repeating: 0), i = 0
        while i + 8 <= count { let d = UnsafeRawPointer(x + i).loadUnaligned(as: V.self) - shift; acc += d * d; i += 8 }
        var s = acc.sum()
        while i < count { let d = x[i] - shift; s += d * d; i += 1 }
        return s
    }

    /// Applies `body` to `count` floats at `base` in SIMD8 steps; the tail goes through a padded lane.
    @inline(__always)
    public static func map(_ base: UnsafeMutablePointer<Float>, count: Int, _ body: (V) -> V) {
        var i = 0
        let raw = UnsafeMutableRawPointer(base)
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            raw.storeBytes(of: body(v), toByteOffset: i * 4, as: V.self)
            i += 8
        }
        if i < count {
            var lane = V(repeating: 0)
            for j in 0..<(count - i) { lane[j] = base[i + j] }
            let out = body(lane)
            for j in 0..<(count - i) { base[i + j] = out[j] }
        }
    }
}
