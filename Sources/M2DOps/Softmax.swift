// Row softmax (torch.softmax over the last dimension).

public enum Softmax {
    /// In place over rows (R,C): x <- exp(x - max) / sum.
    public static func forwardRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let row = x + r * cols
            var m = -Float.infinity
            for c in 0..<cols where row[c] > m { m = row[c] }
            VectorMath.map(row, count: cols) { VectorMath.exp($0 - m) }
            var s: Float = 0
            for c in 0..<cols { s += row[c] }
            let inv = 1 / s
            for c in 0..<cols { row[c] *= inv }
        }
    }
}
