// The JSON request path in-process (InputParser on a JSON body): every accepted form decodes to the
// same bytes, every refusal is the documented status with its message, and the upload budget is
// charged for the decoded bytes before they exist.
import Foundation
import M2DServer
import M2DTensor
import Testing
import TestSupport

/// InputParser on a JSON `body`: the inputs' bytes and options, or the error.
func parseJSONBody(
    _ body: [UInt8], key: String = "inputs", maxItems: Int = 32, reservation: Budget.Reservation? = nil
) -> Result<([AudioInput], RequestOptions), ServerError> {
    let request = HTTPRequest(
        head: RequestHead(method: "POST", path: "/embed", headers: ["content-type": "application/json"]), body: body,
        uploadReservation: reservation)
    do throws(ServerError) {
        return .success(try InputParser.parse(request, jsonInputKey: key, maxItems: maxItems))
    } catch {
        return .failure(error)
    }
}

func parseJSONBody(_ text: String, key: String = "inputs", maxItems: Int = 32) -> Result<
    ([AudioInput], RequestOptions), ServerError
> {
    parseJSONBody(Array(text.utf8), key: key, maxItems: maxItems)
}

func expectFailure(
    _ result: Result<([AudioInput], RequestOptions), ServerError>, _ status: Int, _ text: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard case let .failure(error) = result else {
        Issue.record("accepted; expected \(status) '\(text)'", sourceLocation: sourceLocation)
        return
    }
    #expect(error.status == status, "\(error.message)", sourceLocation: sourceLocation)
    #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
}

@Suite struct JSONBodyTests {
    /// 3,000 bytes whose base64 uses every symbol of both alphabets.
    let audioBytes: [UInt8] = {
        var rng = Rng(seed: 7)
        return (0..<3001).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }()

    func decoded(_ text: String, key: String = "inputs") -> [[UInt8]]? {
        guard case let .success((inputs, _)) = parseJSONBody(text, key: key) else { return nil }
        return inputs.map(\.bytes)
    }

    @Test func everyAcceptedFormDecodesToTheSameBytes() {
        let b64 = Data(audioBytes).base64EncodedString()
        #expect(b64.contains("+") && b64.contains("/") && b64.hasSuffix("="))
        let urlSafe = b64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let unpadded = String(b64.drop { _ in false }.reversed().drop { $0 == "=" }.reversed())
        let wrapped = stride(from: 0, to: b64.count, by: 76).map {
            String(b64.dropFirst($0).prefix(76))
        }.joined(separator: "\\n")
        let escapedSlashes = b64.replacingOccurrences(of: "/", with: "\\/")
        let forms = [
            b64, urlSafe, unpadded, wrapped, escapedSlashes, "data:audio/wav;base64,\(b64)",
            "data:audio\\/wav;base64,\(escapedSlashes)", "data:;base64,\(urlSafe)", " \(b64) ",
            b64.replacingOccurrences(of: "A", with: "\\u0041"),
        ]
        for form in forms {
            #expect(decoded("{\"inputs\": \"\(form)\"}") == [audioBytes], "form: \(form.prefix(60))")
        }
        #expect(decoded("{\"inputs\": [\"\(b64)\", \"\(urlSafe)\"]}") == [audioBytes, audioBytes])
        #expect(decoded("{\"input\": \"\(b64)\"}", key: "input") == [audioBytes])
        // The route's own key wins over the other one; among duplicates the last wins.
        #expect(decoded("{\"input\": \"AAAA\", \"inputs\": \"\(b64)\"}") == [audioBytes])
        #expect(decoded("{\"inputs\": \"AAAA\", \"inputs\": \"\(b64)\"}") == [audioBytes])
    }

    /// Wrapped (escaped newlines) and URL-safe payloads over many 64 KiB cleaning pieces, every length mod 3.
    @Test(arguments: [300_000, 300_001, 300_002])
    func longCleanedPayloadsDecodeWhole(count: Int) {
        var rng = Rng(seed: UInt64(count))
        let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let b64 = Data(bytes).base64EncodedString(options: .lineLength76Characters)
            .replacingOccurrences(of: "\r\n", with: "\\n").replacingOccurrences(of: "+", with: "-")
        #expect(decoded("{\"inputs\": \"\(b64)\"}") == [bytes])
    }

    @Test func otherValuesAreSkippedAndOptionsApplyInOrder() throws {
        let big = "[" + Array(repeating: "[1.5e3, -0.25, true, null, {\"k\": \"v\\u00e9\"}]", count: 2000)
            .joined(separator: ",") + "]"
        let text = """
            {"extra": \(big), "normalize": false, "top_k": 2.0, "normalize": true, "head": "x",
             "parameters": {"head": "keywords", "junk": {"deep": [[[]]]}}, "inputs": "AAAA", "after": "\\ud83c\\udfb5"}
            """
        guard case let .success((inputs, options)) = parseJSONBody(text) else {
            Issue.record("refused: \(parseJSONBody(text))")
            return
        }
        #expect(inputs.map(\.bytes) == [[0, 0, 0]])
        #expect(options.normalize && options.topK == 2 && options.head == "keywords")
    }

    @Test func refusalsKeepTheirStatusAndMessage() {
        expectFailure(parseJSONBody(""), 400, "the JSON body is empty")
        expectFailure(parseJSONBody("{nope"), 400, "not valid JSON")
        expectFailure(parseJSONBody("{\"inputs\": \"AAAA\"} x"), 400, "not valid JSON")
        expectFailure(parseJSONBody("{\"inputs\": \"AA\u{1}A\"}"), 400, "not valid JSON")
        expectFailure(parseJSONBody([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]), 400, "not valid JSON")
        expectFailure(parseJSONBody("[\"AAAA\"]"), 400, "must be an object")
        expectFailure(parseJSONBody("{\"nothing\": 1}"), 400, "has no 'inputs' field")
        expectFailure(parseJSONBody("{\"inputs\": 5}"), 400, "must be a base64 string")
        expectFailure(parseJSONBody("{\"inputs\": []}"), 400, "empty list")
        expectFailure(parseJSONBody("{\"inputs\": [\"AAAA\", 7]}"), 400, "inputs[1] must be a string")
        expectFailure(parseJSONBody("{\"inputs\": [\"AAAA\", \"AAAA\", \"AAAA\"]}", maxItems: 2), 413, "limit is 2")
        expectFailure(parseJSONBody("{\"inputs\": \"%%%not base64%%%\"}"), 400, "inputs[0] is not valid base64")
        expectFailure(parseJSONBody("{\"inputs\": \"AAAA=AAA\"}"), 400, "not valid base64")
        expectFailure(parseJSONBody("{\"inputs\": \"A\"}"), 400, "not valid base64")
        expectFailure(parseJSONBody("{\"inputs\": \"https://x/a.wav\"}"), 422, "URLs are not fetched")
        expectFailure(parseJSONBody("{\"inputs\": \"https:\\/\\/x\\/a.wav\"}"), 422, "URLs are not fetched")
        expectFailure(parseJSONBody("{\"inputs\": \"data:audio/wav,AAAA\"}"), 400, "without ';base64,'")
        expectFailure(parseJSONBody("{\"inputs\": \"data:text/html;base64,AAAA\"}"), 415, "'text/html'")
        expectFailure(parseJSONBody("{\"inputs\": \"AAAA\", \"normalize\": 1}"), 422, "normalize")
        expectFailure(parseJSONBody("{\"inputs\": \"AAAA\", \"top_k\": 1e300}"), 422, "top_k must be an integer")
        expectFailure(parseJSONBody("{\"inputs\": \"AAAA\", \"top_k\": 1e400}"), 400, "number out of range")
        expectFailure(parseJSONBody("{\"inputs\": \"AAAA\", \"top_k\": 2.5}"), 422, "top_k must be an integer")
        expectFailure(parseJSONBody("{\"inputs\": \"AAAA\", \"top_k\": [1]}"), 422, "top_k must be an integer")
        let longModel = String(repeating: "m", count: 5000)
        expectFailure(parseJSONBody("{\"inputs\": \"AAAA\", \"model\": \"\(longModel)\"}"), 422, "model is longer")
        expectFailure(parseJSONBody("{\"input\": \"AAAA\", \"modality\": \"text\"}", key: "input"), 422, "modality")
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        expectFailure(parseJSONBody("{\"inputs\": \"AAAA\", \"x\": \(deep)}"), 400, "nested deeper than 32")
        let veryDeep = String(repeating: "{\"a\":", count: 100_000) + "1" + String(repeating: "}", count: 100_000)
        expectFailure(parseJSONBody(veryDeep), 400, "nested deeper than 32")
    }

    @Test func theUploadBudgetIsChargedForTheDecodedBytesFirst() {
        let b64 = Data(audioBytes).base64EncodedString()
        let body = Array("{\"inputs\": [\"\(b64)\", \"\(b64)\"]}".utf8)
        let tight = Budget(capacity: body.count + 3000)
        let refused = parseJSONBody(body, reservation: tight.reserve(body.count))
        expectFailure(refused, 429, "--max-inflight-upload-mb")
        let roomy = Budget(capacity: body.count * 2)
        let reservation = roomy.reserve(body.count)
        guard case .success = parseJSONBody(body, reservation: reservation) else {
            Issue.record("refused with room in the budget")
            return
        }
        #expect(reservation!.held >= body.count + 2 * audioBytes.count)
        #expect(reservation!.held <= body.count + 2 * (audioBytes.count + 2))
    }
}
