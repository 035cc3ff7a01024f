// JSONScanner against Foundation's JSONSerialization on a seeded corpus: valid documents, and
// mutations of them (flipped, inserted and deleted bytes, truncations). The scanner must accept
// exactly what JSONSerialization accepts, and find every string's bytes where they are.
import Foundation
import M2DJSON
import Testing

/// Seeded generator of JSON texts (splitmix64).
struct JSONCorpus {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var x = state
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    mutating func space() -> String { ["", " ", "\n", "\t ", "\r\n  "][below(5)] }

    mutating func string() -> String {
        let pieces = [
            "a", "Z", "0", " ", "é", "日本", "🎵", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u00e9", "\\ud83c\\udfb5",
            "+", "/", "=", "-", "_", "{", "]", ",",
        ]
        return "\"" + (0..<below(8)).map { _ in pieces[below(pieces.count)] }.joined() + "\""
    }

    mutating func number() -> String {
        ["0", "-0", "7", "-12", "3.25", "1e3", "2E-7", "-0.5e+10", "123456789012345678901234567890", "1.0e308"][
            below(10)]
    }

    mutating func value(depth: Int) -> String {
        switch depth > 4 ? below(4) : below(7) {
        case 0: return string()
        case 1: return number()
        case 2: return ["true", "false", "null"][below(3)]
        case 3: return string()
        case 4, 5:
            let items = (0..<below(4)).map { _ in space() + value(depth: depth + 1) + space() }
            return "[" + items.joined(separator: ",") + "]"
        default:
            let members = (0..<below(4)).map { _ in
                space() + string() + space() + ":" + space() + value(depth: depth + 1)
            }
            return "{" + members.joined(separator: ",") + space() + "}"
        }
    }

    /// One random edit of `bytes`.
    mutating func mutate(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        let specials: [UInt8] = Array("{}[],:\"\\-+.eE0123 tfn\u{1}".utf8) + [0x80, 0xC3, 0xFF, 0xED, 0xA0]
        switch below(4) {
        case 0 where !b.isEmpty: b[below(b.count)] = specials[below(specials.count)]
        case 1: b.insert(specials[below(specials.count)], at: below(b.count + 1))
        case 2 where !b.isEmpty: b.remove(at: below(b.count))
        default: b = Array(b.prefix(below(b.count + 1)))
        }
        return b
    }
}

func scannerAccepts(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBufferPointer { raw in
        var s = JSONScanner(raw, maxDepth: 64)
        do {
            _ = try s.value()
            try s.finish()
            return true
        } catch {
            return false
        }
    }
}

func foundationAccepts(_ bytes: [UInt8]) -> Bool {
    (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
}

@Suite struct JSONScannerTests {
    @Test func acceptsExactlyWhatFoundationAccepts() {
        var corpus = JSONCorpus(seed: 2026)
        var checked = 0, invalid = 0
        for _ in 0..<4000 {
            let valid = Array((corpus.space() + corpus.value(depth: 0) + corpus.space()).utf8)
            #expect(scannerAccepts(valid), "refused a valid document: \(String(decoding: valid, as: UTF8.self))")
            var mutated = valid
            for _ in 0..<(1 + corpus.below(3)) { mutated = corpus.mutate(mutated) }
            let expected = foundationAccepts(mutated)
            if !expected { invalid += 1 }
            #expect(
                scannerAccepts(mutated) == expected,
                "Foundation \(expected ? "accepts" : "refuses"): \(mutated.map { String(format: "%02x", $0) }.joined())"
            )
            checked += 1
        }
        #expect(checked == 4000 && invalid > 1000, "the mutations must make many invalid documents (\(invalid))")
    }

    @Test func tokensPointAtTheirBytes() throws {
        let text = #"{"a\u0062" : [1.5, "x\"y", true] , "k": {"z": null}, "s": "é🎵"}"#
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBufferPointer { raw in
            var s = JSONScanner(raw)
            try s.enterObject()
            let k1 = try #require(try s.nextKey())
            #expect(s.unescaped(k1) == "ab" && k1.escaped)
            #expect(try s.peekKind() == .array)
            try s.enterArray()
            #expect(try s.nextElement())
            let n = try s.value()
            #expect(n.kind == .number && String(decoding: raw[n.range], as: UTF8.self) == "1.5")
            #expect(try s.nextElement())
            #expect(s.unescaped(try s.value()) == "x\"y")
            #expect(try s.nextElement())
            #expect(try s.value().bool)
            #expect(try !s.nextElement())
            #expect(s.unescaped(try #require(try s.nextKey())) == "k")
            let skipped = try s.value()
            #expect(skipped.kind == .object && String(decoding: raw[skipped.range], as: UTF8.self) == #"{"z": null}"#)
            #expect(s.unescaped(try #require(try s.nextKey())) == "s")
            #expect(s.unescaped(try s.value()) == "é🎵")
            #expect(try s.nextKey() == nil)
            try s.finish()
        }
    }

    @Test func nestingPastTheLimitIsRefusedBeforeItIsFollowed() {
        for (text, limit) in [("[[[1]]]", 2), (String(repeating: "{\"a\":", count: 1_000_000), 32)] {
            Array(text.utf8).withUnsafeBufferPointer { raw in
                var s = JSONScanner(raw, maxDepth: limit)
                #expect(throws: JSONScanner.ScanError.tooDeep(limit: limit)) { _ = try s.value() }
            }
        }
        Array("[[1]]".utf8).withUnsafeBufferPointer { raw in
            var s = JSONScanner(raw, maxDepth: 2)
            #expect((try? s.value())?.kind == .array)
        }
    }

    /// Every byte value inside a string, eight-byte fast path and byte path alike.
    @Test func everyByteInAStringIsJudgedAsFoundationJudgesIt() {
        for b in 0...255 {
            for pad in [0, 3, 9] {
                let bytes =
                    Array("\"".utf8) + Array(repeating: UInt8(ascii: "a"), count: pad) + [UInt8(b)]
                    + Array(repeating: UInt8(ascii: "b"), count: pad) + Array("\"".utf8)
                #expect(scannerAccepts(bytes) == foundationAccepts(bytes), "byte \(b) after \(pad)")
            }
        }
    }
}
