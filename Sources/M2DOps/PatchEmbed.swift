// Patch embedding (timm PatchEmbed: Conv2d(1, D, 16x16, stride 16)) as im2col + Linear.
// Tokens come out frequency-major: token n = f * T + t.

public enum PatchEmbed {
    /// cols (F*T, ph*pw): row f*T + t holds input[ph*f + i, pw*t + j] at column i*pw + j, matching
    /// the [D,1,ph,pw] conv weight flattened to [D, ph*pw]. input is (F*ph, >= T*pw) with row stride
    /// `ldInput`; leftover frames beyond T*pw are ignored (the strided conv drops them).
    public static func im2col(
        cols: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, ldInput: Int,
        freqPatches F: Int, timePatches T: Int, patchHeight ph: Int, patchWidth pw: Int
    ) {
        let K = ph * pw
        for f in 0..<F {
            for t in 0..<T {
                let dst = cols + (f * T + t) * K
                for i in 0..<ph {
                    let src = input + (f * ph + i) * ldInput + t * pw
                    (dst + i * pw).update(from: src, count: pw)
                }
            }
        }
    }
}
