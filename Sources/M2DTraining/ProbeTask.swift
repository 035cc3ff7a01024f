// ProbeTask: a labelled task CSV (`file,label,split`; split = train/valid/test; label may hold
// several labels separated by ';' for multi-label tasks), paths relative to the CSV's folder.
import Foundation
import SwiftCSV

public struct ProbeTask: Sendable {
    public struct Item: Sendable {
        public var file: String
        public var labels: [String]
        public var split: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String), malformed(String)
        public var description: String {
            switch self {
            case let .unreadable(m), let .malformed(m): m
            }
        }
    }

    public var name: String
    public var items: [Item]
    /// Sorted class names.
    public var labels: [String]
    public var multiLabel: Bool

    public init(csv path: String) throws(Failure) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .unreadable("cannot read \(path)")
        }
        let csv: CSV<Named>
        do { csv = try CSV<Named>(string: text, delimiter: .comma) } catch { throw .malformed("\(path): \(error)") }
        for column in ["file", "label", "split"] where !csv.header.contains(column) {
            throw .malformed("\(path): needs the columns file,label,split (found \(csv.header.joined(separator: ",")))")
        }
        let base = (path as NSString).deletingLastPathComponent
        var items: [Item] = []
        for (i, row) in csv.rows.enumerated() {
            guard let file = row["file"], !file.isEmpty, let label = row["label"],
                let split = row["split"]?.lowercased()
            else {
                throw .malformed("\(path): row \(i + 2) is incomplete")
            }
            guard ["train", "valid", "test"].contains(split) else {
                throw .malformed("\(path): row \(i + 2) has split '\(split)'; use train, valid or test")
            }
            let labels = label.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            if labels.isEmpty { throw .malformed("\(path): row \(i + 2) has no label") }
            items.append(
                Item(file: file.hasPrefix("/") || base.isEmpty ? file : base + "/" + file, labels: labels, split: split)
            )
        }
        if !items.contains(where: { $0.split == "train" }) { throw .malformed("\(path): no train rows") }
        name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        self.items = items
        labels = Array(Set(items.flatMap(\.labels))).sorted()
        multiLabel = items.contains { $0.labels.count > 1 }
    }

    public func targets(_ item: Item) -> [Int] { item.labels.compactMap { labels.firstIndex(of: $0) } }
}

/// Per-dimension standardization fitted on training features: mean and population std (ddof 0,
/// float64), zero-variance dimensions get scale 1 (sklearn StandardScaler).
public struct Standardizer: Sendable {
    public var mean: [Float]
    public var scale: [Float]

    public init(fitting rows: [[Float]]) {
        let dim = rows.first?.count ?? 0
        var m = [Double](repeating: 0, count: dim), v = [Double](repeating: 0, count: dim)
        for r in rows { for d in 0..<dim { m[d] += Double(r[d]) } }
        let n = Double(max(rows.count, 1))
        for d in 0..<dim { m[d] /= n }
        for r in rows { for d in 0..<dim { let x = Double(r[d]) - m[d]; v[d] += x * x } }
        mean = m.map { Float($0) }
        scale = v.map {
            let s = ($0 / n).squareRoot(); return Float(s == 0 ? 1 : s)
        }
    }

    public func apply(_ row: [Float]) -> [Float] { (0..<row.count).map { (row[$0] - mean[$0]) / scale[$0] } }
}
