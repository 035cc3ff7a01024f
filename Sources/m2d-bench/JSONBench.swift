// m2d-bench json: the server's JSON request path alone (InputParser on a body in memory: the scan,
// the budget charge and the base64 decoding) on one thread, in MB of JSON per second, for the body
// shapes of the hardening issue. The target is at least 200 MB/s on one core.
import ArgumentParser
import Foundation
import M2DAudio
import M2DServer

struct JSONBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "json", abstract: "The JSON request path alone: MB/s of JSON on one thread, per body shape.")

    @Option(help: "Timed repetitions per body (best is reported).") var repeats = 5

    func bodies() -> [(String, [UInt8])] {
        var rng = SystemRandomNumberGenerator()
        let samples = (0..<(400 * 16000)).map { _ in Float.random(in: -0.3...0.3, using: &rng) }
        let wav = WavEncoder.pcm16(samples, sampleRate: 16000)
        let b64 = Data(wav).base64EncodedString()
        let wrapped = Data(wav).base64EncodedString(options: .lineLength76Characters)
            .replacingOccurrences(of: "\r\n", with: "\\n")
        return [
            ("400 s WAV as base64 (17 MB)", Array("{\"inputs\": \"\(b64)\"}".utf8)),
            ("the same, URL-safe, lines of 76", Array(
                "{\"inputs\": \"\(wrapped.replacingOccurrences(of: "+", with: "-"))\"}".utf8)),
            ("32 inputs of 12.5 s in a list", Array(
                ("{\"input\": [" + Array(repeating: "\"\(b64.prefix(b64.count / 32 / 4 * 4))\"", count: 32)
                    .joined(separator: ",") + "]}").utf8)),
            ("20 MB of base64 'A' (refused: not audio)", Array(
                "{\"inputs\": \"\(String(repeating: "A", count: 20_000_000))\"}".utf8)),
            ("\"AAAA\" + 10M numbers in another key", Array(
                ("{\"inputs\": \"AAAA\", \"x\": [" + String(repeating: "1.5,", count: 9_999_999) + "1]}").utf8)),
        ]
    }

    func run() throws {
        print("| body | MB | best ms | MB/s (one thread) | inputs | target |")
        print("|---|---|---|---|---|---|")
        for (name, body) in bodies() {
            let request = HTTPRequest(
                head: RequestHead(method: "POST", path: "/embed", headers: ["content-type": "application/json"]),
                body: body)
            var best = Double.infinity, inputs = 0
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                let parsed = try? InputParser.parse(request, jsonInputKey: "input", maxItems: 32)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                inputs = parsed?.0.count ?? 0
            }
            let mb = Double(body.count) / 1e6
            let rate = String(format: "%.1f | %.1f | %.0f", mb, best, mb / (best / 1000))
            print("| \(name) | \(rate) | \(inputs) | >= 200 |")
        }
    }
}
