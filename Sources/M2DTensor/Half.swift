// Half-precision widening for checkpoint loading (F16 / BF16 -> F32).

public enum HalfPrecision {
    /// IEEE 754 binary16 bits to Float (exact).
    @inline(__always)
    public static func floatFromF16(_ bits: UInt16) -> Float {
        #if arch(x86_64) || arch(arm64)
            return Float(Float16(bitPattern: bits))
        #else
            let sign = UInt32(bits & 0x8000) << 16
            var exp = Int32((bits >> 10) & 0x1f)
            var mant = UInt32(bits & 0x3ff)
            if exp == 0x1f { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
            if exp == 0 {
                if mant == 0 { return Float(bitPattern: sign) }
                while mant & 0x400 == 0 { mant <<= 1; exp -= 1 }
                exp += 1; mant &= 0x3ff
            }
            return Float(bitPattern: sign | (UInt32(exp + 112) << 23) | (mant << 13))
        #endif
    }

    /// bfloat16 bits to Float (exact: the upper half of an f32).
    @inline(__always)
    public static func floatFromBF16(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Float to bfloat16 bits, round to nearest even.
    @inline(__always)
    public static func bf16FromFloat(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounding = UInt32(0x7fff) + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }

    /// Float to binary16 bits, round to nearest even.
    @inline(__always)
    public static func f16FromFloat(_ value: Float) -> UInt16 { Float16(value).bitPattern }
}
