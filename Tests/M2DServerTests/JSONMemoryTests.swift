// Hardening, the JSON path: a JSON body costs its own bytes plus the audio it carries, never a
// multiple of them, and parsing it takes well under a second. Black-box against the real server
// under an address-space limit, peak RSS (VmHWM, reset before each row) read from /proc.
import Foundation
import M2DServer
import Testing
import TestSupport

extension ServerProcess {
    /// Resets VmHWM to the current RSS (needs root or the server's user) and returns that RSS, MiB.
    func resetPeak() throws -> Double {
        try "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8)
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kb / 1024
    }
}

@Suite(.serialized) struct JSONMemoryTests {
    static let mib = 1024.0 * 1024.0
    /// 20 MB: four base64 characters as the input, and ten million numbers in another key.
    static var numberArrayBody: [UInt8] {
        Array(("{\"inputs\": \"AAAA\", \"x\": [" + String(repeating: "1,", count: 9_999_999) + "1]}").utf8)
    }

    /// One request: status, seconds, and peak RSS growth in MiB.
    func measure(_ server: ServerProcess, _ body: [UInt8], contentType: String = "application/json") throws -> (
        Int, Double, Double
    ) {
        let base = try server.resetPeak()
        let start = Date()
        let r = try server.request("POST", "/embed", headers: ["Content-Type": contentType], body: body, timeout: 120)
        return (r.status, Date().timeIntervalSince(start), server.peakRSSMB - base)
    }

    @Test func jsonBodiesCostTheirBytesPlusTheirAudio() throws {
        let server = try ServerProcess([], addressSpaceMB: 3072)
        let wav = TestAudio.longWAV(seconds: 400, rate: 16000)  // 12.8 MB
        let wavJSON = Array("{\"inputs\": \"\(Data(wav).base64EncodedString())\"}".utf8)
        let (rawStatus, rawSeconds, rawGrowth) = try measure(server, wav, contentType: "audio/wav")
        #expect(rawStatus == 200)
        let (jsonStatus, jsonSeconds, jsonGrowth) = try measure(server, wavJSON)
        #expect(jsonStatus == 200)
        // The same audio as base64: at most its JSON body more (the body, then the decoded file).
        let bodyMiB = Double(wavJSON.count) / Self.mib
        #expect(jsonGrowth <= rawGrowth + bodyMiB + 16, "raw +\(rawGrowth) MiB, JSON +\(jsonGrowth) MiB")
        #expect(jsonSeconds <= rawSeconds + 1, "raw \(rawSeconds) s, JSON \(jsonSeconds) s")

        let letters = Array("{\"inputs\": \"\(String(repeating: "A", count: 20_000_000))\"}".utf8)
        let numbers = Self.numberArrayBody
        for (name, body) in [("20 MB of base64 'A'", letters), ("a 10M-number array beside", numbers)] {
            let (status, seconds, growth) = try measure(server, body)
            #expect(status == 400, "\(name)")
            #expect(seconds < 1, "\(name): \(seconds) s")
            #expect(growth <= 1.75 * Double(body.count) / Self.mib + 16, "\(name): +\(growth) MiB")
        }
        #expect(server.isRunning)
    }

    /// 16 concurrent 20 MB JSON bodies (the number-array kind, the most work to parse) leave a 1 s WAV
    /// served within 3 s, and together grow the server by less than 512 MiB.
    @Test func concurrentJSONBodiesStarveNobody() throws {
        let server = try ServerProcess([], addressSpaceMB: 3072)
        let numbers = Self.numberArrayBody
        let base = try server.resetPeak()
        let heavy = (0..<16).map { _ in
            BackgroundRequest(port: server.port, headers: ["Content-Type": "application/json"], body: numbers)
        }
        usleep(300_000)
        let start = Date()
        let small = try server.postWAV("/embed", TestAudio.longWAV(seconds: 1, rate: 16000))
        let seconds = Date().timeIntervalSince(start)
        #expect(small.status == 200)
        #expect(seconds < 3, "the 1 s WAV took \(seconds) s beside 16 JSON bodies")
        let statuses = heavy.map { $0.wait()?.status ?? 0 }
        #expect(statuses.allSatisfy { $0 == 400 || $0 == 429 }, "\(statuses)")
        let growth = server.peakRSSMB - base
        #expect(growth < 512, "16 x 20 MB JSON grew the server by \(growth) MiB")
    }
}
