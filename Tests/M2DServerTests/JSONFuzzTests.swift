// Seeded fuzzing of JSON request bodies: valid requests mutated (deep nesting, huge numbers, long
// strings, invalid UTF-8, truncation, duplicate keys, random edits). In-process, every body is
// answered (success or a 4xx, never a 5xx) quickly, and refused as not JSON exactly when Foundation
// refuses it; then a sample goes to the real server under an address-space limit, which must answer
// each one and stay within its memory bound.
import Foundation
import M2DServer
import M2DTensor
import Testing
import TestSupport

struct JSONBodyMutator {
    var rng: Rng
    let wav: String

    init(seed: UInt64) {
        rng = Rng(seed: seed)
        wav = Data(TestAudio.wav16((0..<1600).map { Float(sin(Double($0) * 0.1)) * 0.3 })).base64EncodedString()
    }

    mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(max(1, n))) }

    /// A valid request body of one of the accepted shapes.
    mutating func seed() -> [UInt8] {
        let shapes = [
            "{\"inputs\": \"\(wav)\"}",
            "{\"input\": [\"\(wav)\", \"data:audio/wav;base64,\(wav)\"], "
                + "\"model\": \"m\", \"encoding_format\": \"float\"}",
            "{\"inputs\": \"\(wav)\", \"parameters\": {\"normalize\": true, \"top_k\": 3}, \"granularity\": \"clip\"}",
            "{\"normalize\": false, \"inputs\": [\"\(wav)\"], \"extra\": {\"a\": [1, 2.5e3, null, \"x\"]}}",
        ]
        return Array(shapes[below(shapes.count)].utf8)
    }

    mutating func mutate(_ body: [UInt8]) -> [UInt8] {
        var b = body
        let at = below(b.count + 1)
        switch below(9) {
        case 0:  // deep nesting
            let n = [10, 33, 1000, 100_000][below(4)]
            let open = below(2) == 0 ? "[" : "{\"k\":"
            b.insert(
                contentsOf: Array((String(repeating: open, count: n) + "1").utf8)
                    + Array(
                        String(repeating: open == "[" ? "]" : "}", count: n).utf8), at: at)
        case 1:  // huge numbers
            let n = [
                "1e999", "-1e308", String(repeating: "9", count: 10_000), "0.\(String(repeating: "0", count: 5000))1",
            ]
            b.insert(contentsOf: Array(n[below(n.count)].utf8), at: at)
        case 2:  // long strings
            b.insert(
                contentsOf: Array(("\"" + String(repeating: "x", count: [1000, 1 << 20][below(2)]) + "\"").utf8), at: at
            )
        case 3:  // invalid UTF-8
            b.insert(contentsOf: [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80]][below(4)], at: at)
        case 4:  // truncation
            b = Array(b.prefix(at))
        case 5:  // duplicate keys
            if let brace = b.firstIndex(of: UInt8(ascii: "{")) {
                let dup = ["\"inputs\": \"AAAA\",", "\"normalize\": 1,", "\"inputs\": [7],", "\"parameters\": [],"]
                b.insert(contentsOf: Array(dup[below(dup.count)].utf8), at: brace + 1)
            }
        case 6:  // escapes
            let e = ["\\u", "\\ud800", "\\x", "\\\\", "\\/", "\\u0041"]
            b.insert(contentsOf: Array(e[below(e.count)].utf8), at: at)
        default:  // random bytes
            let specials = Array("{}[],:\"\\0-e. tn".utf8)
            for _ in 0..<(1 + below(4)) where !b.isEmpty { b[below(b.count)] = specials[below(specials.count)] }
        }
        return b
    }
}

@Suite(.serialized) struct JSONFuzzTests {
    static func bodies(count: Int, seed: UInt64) -> [[UInt8]] {
        var m = JSONBodyMutator(seed: seed)
        return (0..<count).map { _ in
            var b = m.seed()
            for _ in 0..<(1 + m.below(3)) { b = m.mutate(b) }
            return b
        }
    }

    @Test func everyMutatedBodyIsAnsweredAndNoneTraps() {
        var refusedAsJSON = 0, accepted = 0
        for body in Self.bodies(count: 2000, seed: 29) {
            let start = Date()
            let result = parseJSONBody(body, key: "inputs")
            let seconds = Date().timeIntervalSince(start)
            #expect(seconds < 1, "a \(body.count)-byte body took \(seconds) s")
            let foundation = (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) != nil
            switch result {
            case .success: accepted += 1
            case let .failure(error):
                #expect((400..<500).contains(error.status), "\(error.status): \(error.message)")
                if error.message.contains("not valid JSON") { refusedAsJSON += 1 }
                // Refused as JSON only when Foundation refuses it too (nesting past 32 is refused by name).
                if error.message.contains("not valid JSON") {
                    #expect(!foundation, "Foundation accepts: \(String(decoding: body.prefix(200), as: UTF8.self))")
                }
                if !foundation {
                    #expect(
                        error.message.contains("not valid JSON") || error.message.contains("nested deeper"),
                        "\(error.message)")
                }
            }
            if case .success = result { #expect(foundation) }
        }
        #expect(accepted > 50 && refusedAsJSON > 500, "accepted \(accepted), refused as JSON \(refusedAsJSON)")
    }

    /// A sample of the same bodies against the real server under a 3 GiB address-space limit: each
    /// answered with 200 or a 4xx, the server alive after all, and its peak growth within 1.75x the
    /// largest body plus what decoding a short clip costs.
    @Test func theRealServerAnswersEveryMutatedBody() throws {
        let server = try ServerProcess([], addressSpaceMB: 3072)
        let bodies = Self.bodies(count: 300, seed: 2029)
        let base = try server.resetPeak()
        var statuses: [Int: Int] = [:]
        for body in bodies {
            let r = try server.request(
                "POST", "/v1/embeddings", headers: ["Content-Type": "application/json"], body: body)
            statuses[r.status, default: 0] += 1
            #expect(r.status == 200 || (400..<500).contains(r.status), "\(r.status): \(r.text.prefix(200))")
        }
        #expect(server.isRunning)
        #expect(try server.request("GET", "/health/ready").status == 200)
        let largest = Double(bodies.map(\.count).max() ?? 0) / 1_048_576
        let growth = server.peakRSSMB - base
        #expect(growth <= 1.75 * largest + 48, "peak growth \(growth) MiB for bodies up to \(largest) MiB")
        #expect((statuses[200] ?? 0) > 10 && statuses.keys.contains(400), "\(statuses)")
    }
}
