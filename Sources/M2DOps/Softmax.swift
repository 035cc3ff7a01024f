// Row softmax (torch.softmax over the last dimension).

public enum Softmax {
    /// In place over rows (R,C): x <- exp(x - max) / sum. Max, exp, sum and scale run in SIMD8 lanes.
    public static func forwardRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        typealias V = VectorMath.V
        let raw = UnsafeMutableRawPointer(x)
        let vectorCols = cols & ~7
        for r in 0..<rows {
            let row = x + r * cols, base = raw + r * cols * 4
            var mv = V(repeating: -.infinity)
            var c = 0
            while c < vectorCols {
                mv = VectorMath.maximum(mv, base.loadUnaligned(fromByteOffset: c * 4, as: V.self))
                c += 8
            }
            var m = mv.max()
            for t in vectorCols..<cols where row[t] > m { m = row[t] }
            VectorMath.map(row, count: cols) { VectorMath.exp($0 - m) }
            var sv = V(repeating: 0)
            c = 0
            while c < vectorCols {
                sv += base.loadUnaligned(fromByteOffset: c * 4, as: V.self)
                c += 8
            }
            var s = sv.sum()
            for t in vectorCols..<cols { s += row[t] }
            let inv = 1 / s
            c = 0
            while c < vectorCols {
                base.storeBytes(
                    of: base.loadUnaligned(fromByteOffset: c * 4, as: V.self) * inv, toByteOffset: c * 4, as: V.self)
                c += 8
            }
            for t in vectorCols..<cols { row[t] *= inv }
        }
    }
}
