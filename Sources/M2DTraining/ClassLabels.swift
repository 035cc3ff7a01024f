// ClassLabels: class names for an official head from AudioSet's class_labels_indices.csv (index,mid,display_name).
// The official notebooks order it with pandas `sort_values('mid')`, so output i is the i-th label by mid (code
// point order), not the CSV's index column.
import Foundation
import SwiftCSV

public enum ClassLabels {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func officialOrder(csv path: String) throws(Failure) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Failure(description: "cannot read the labels file \(path)")
        }
        let csv: CSV<Named>
        do { csv = try CSV<Named>(string: text, delimiter: .comma) } catch {
            throw Failure(description: "\(path): \(error)")
        }
        for column in ["mid", "display_name"] where !csv.header.contains(column) {
            throw Failure(
                description: "\(path): needs AudioSet's columns index,mid,display_name "
                    + "(found \(csv.header.joined(separator: ",")))")
        }
        var rows: [(mid: String, name: String)] = []
        for (i, row) in csv.rows.enumerated() {
            guard let mid = row["mid"], !mid.isEmpty, let name = row["display_name"] else {
                throw Failure(description: "\(path): row \(i + 2) has no mid or display_name")
            }
            rows.append((mid, name))
        }
        if Set(rows.map(\.mid)).count != rows.count { throw Failure(description: "\(path): a mid appears twice") }
        return rows.sorted { $0.mid.unicodeScalars.lexicographicallyPrecedes($1.mid.unicodeScalars) }.map(\.name)
    }
}
