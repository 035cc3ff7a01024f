// Tolerance rules, written once (STYLE.md 3.5): elementwise |a - r| <= atol + rtol*|r|, plus
// whole-output cosine / NMSE. Failures name the tensor, the first mismatches and the max diff.

public struct Comparison: CustomStringConvertible {
    public let name: String
    public let count: Int
    public let maxAbsDiff: Double
    public let maxAbsReference: Double
    public let cosine: Double
    public let nmse: Double
    public let violations: Int
    public let firstViolations: [(index: Int, actual: Float, expected: Float)]

    public var description: String {
        let first = firstViolations.map { "[\($0.index)] \($0.actual) vs \($0.expected)" }.joined(separator: ", ")
        return
            "\(name): n=\(count) maxAbsDiff=\(maxAbsDiff) max|ref|=\(maxAbsReference) cosine=\(cosine) nmse=\(nmse) "
            + "violations=\(violations) \(first)"
    }
}

public enum Numerics {
    /// Compares `actual` with `expected` elementwise (atol + rtol*|r|) and as whole vectors.
    public static func compare(
        _ name: String, _ actual: [Float], _ expected: [Float], atol: Double, rtol: Double = 0
    ) -> Comparison {
        precondition(actual.count == expected.count, "\(name): \(actual.count) values vs \(expected.count) expected")
        var maxDiff = 0.0, maxRef = 0.0, dot = 0.0, na = 0.0, nr = 0.0, err = 0.0
        var violations = 0
        var first: [(Int, Float, Float)] = []
        for i in 0..<actual.count {
            let a = Double(actual[i]), r = Double(expected[i])
            let d = abs(a - r)
            if !(d <= atol + rtol * abs(r)) {
                violations += 1
                if first.count < 5 { first.append((i, actual[i], expected[i])) }
            }
            maxDiff = max(maxDiff, d.isNaN ? .infinity : d)
            maxRef = max(maxRef, abs(r))
            dot += a * r; na += a * a; nr += r * r; err += (a - r) * (a - r)
        }
        let cosine = (na == 0 && nr == 0) ? 1 : dot / ((na * nr).squareRoot() + 1e-300)
        return Comparison(
            name: name, count: actual.count, maxAbsDiff: maxDiff, maxAbsReference: maxRef,
            cosine: cosine, nmse: nr == 0 ? err : err / nr, violations: violations,
            firstViolations: first.map { (index: $0.0, actual: $0.1, expected: $0.2) })
    }

    public static func cosine(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y)
        }
        return (na == 0 && nb == 0) ? 1 : dot / ((na * nb).squareRoot() + 1e-300)
    }
}
