// InputParser: turns any accepted request form into inputs + options (docs/HTTP-API.md §2):
// multipart field `file` (repeatable; `file[]` and `data` too), a raw audio body, or JSON
// {"inputs": base64 | data URI | [...]} ({"input": ...} on /v1/embeddings).
import Foundation
import M2DAudio

public enum InputParser {
    /// Parses a request. `jsonInputKey` is "inputs" on native routes and "input" on /v1/embeddings.
    public static func parse(
        _ request: HTTPRequest, jsonInputKey: String = "inputs",
        maxItems: Int
    ) throws(ServerError) -> ([AudioInput], RequestOptions) {
        var options = RequestOptions()
        var inputs: [AudioInput] = []
        let media = request.head.mediaType
        switch media {
        case "multipart/form-data", "application/x-www-form-urlencoded":
            for part in request.parts {
                if ["file", "file[]", "data", "files", "audio"].contains(part.name) {
                    inputs.append(AudioInput(name: part.filename ?? "input[\(inputs.count)]", bytes: part.data))
                } else {
                    try options.apply(key: part.name, text: part.text)
                }
            }
            for (k, v) in request.head.query { try options.apply(key: k, text: v) }
            if inputs.isEmpty { throw .empty("no audio in the form; send the file in a field named 'file'") }
        case "application/json":
            for (k, v) in request.head.query { try options.apply(key: k, text: v) }
            inputs = try parseJSON(request.body, inputKey: jsonInputKey, options: &options)
        case let m? where AudioFormat.mediaTypes.contains(m) || m == "application/octet-stream":
            for (k, v) in request.head.query { try options.apply(key: k, text: v) }
            if request.body.isEmpty { throw .empty("the request body is empty; send the audio bytes") }
            inputs = [AudioInput(name: "input[0]", bytes: request.body)]
        case nil:
            if request.body.isEmpty { throw .empty("the request has no body; send audio (see /openapi.yaml)") }
            throw .unsupportedMediaType("missing Content-Type")
        case let m?:
            throw .unsupportedMediaType("Content-Type '\(m)' is not accepted")
        }
        if inputs.count > maxItems {
            throw .payloadTooLarge(
                "\(inputs.count) inputs in one request; the limit is \(maxItems) (--max-client-batch-size)")
        }
        for (i, input) in inputs.enumerated() {
            if input.bytes.isEmpty { throw .empty("input \(i) (\(input.name)) is empty") }
            if let unsupported = AudioFormat.refusedContainer(input.bytes) {
                throw .unsupportedMediaType("input \(i) (\(input.name)) is \(unsupported), which cannot be decoded")
            }
            if media == "application/octet-stream", AudioFormat.sniff(input.bytes) == nil {
                throw .unsupportedMediaType(
                    "the body is not a recognised audio file (no signature of \(AudioFormat.summary))")
            }
        }
        return (inputs, options)
    }

    static func parseJSON(
        _ body: [UInt8], inputKey: String, options: inout RequestOptions
    ) throws(ServerError) -> [AudioInput] {
        if body.isEmpty { throw .empty("the JSON body is empty") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: Data(body)) } catch {
            throw .invalidRequest("the body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw .invalidRequest("the JSON body must be an object") }
        let otherKey = inputKey == "inputs" ? "input" : "inputs"
        guard let raw = object[inputKey] ?? object[otherKey] else {
            throw .empty("the JSON body has no '\(inputKey)' field")
        }
        for (k, v) in object where k != inputKey && k != otherKey && k != "parameters" {
            try options.apply(key: k, json: v)
        }
        if let parameters = object["parameters"] as? [String: Any] {
            for (k, v) in parameters { try options.apply(key: k, json: v) }
        }
        if let modality = object["modality"] as? String, modality != "audio" {
            throw .validation("modality must be 'audio', got '\(modality)'", param: "modality")
        }
        let items: [Any]
        if let s = raw as? String {
            items = [s]
        } else if let a = raw as? [Any] {
            items = a
        } else {
            throw .invalidRequest("'\(inputKey)' must be a base64 string, a data URI, or a list of them")
        }
        if items.isEmpty { throw .empty("'\(inputKey)' is an empty list") }
        var out: [AudioInput] = []
        for (i, item) in items.enumerated() {
            guard let text = item as? String else {
                throw .invalidRequest("\(inputKey)[\(i)] must be a string (base64 or data URI)")
            }
            out.append(
                AudioInput(name: "\(inputKey)[\(i)]", bytes: try decodeBase64Audio(text, index: i, key: inputKey)))
        }
        return out
    }

    /// Bare base64 or `data:<media>;base64,<data>`. URLs are refused (no server-side fetching).
    static func decodeBase64Audio(_ text: String, index: Int, key: String) throws(ServerError) -> [UInt8] {
        var payload = Substring(text)
        if text.hasPrefix("http://") || text.hasPrefix("https://") {
            throw .validation("\(key)[\(index)] is a URL; URLs are not fetched, send the audio as base64", param: key)
        }
        if text.hasPrefix("data:") {
            guard let comma = text.firstIndex(of: ","), text[..<comma].hasSuffix(";base64") else {
                throw .invalidRequest("\(key)[\(index)] is a data URI without ';base64,'")
            }
            let mediaType = String(text[text.index(text.startIndex, offsetBy: 5)..<comma].dropLast(7)).lowercased()
            if !mediaType.isEmpty, !AudioFormat.mediaTypes.contains(mediaType), mediaType != "application/octet-stream"
            {
                throw .unsupportedMediaType("\(key)[\(index)] has media type '\(mediaType)'")
            }
            payload = text[text.index(after: comma)...]
        }
        let cleaned = payload.filter { !$0.isWhitespace }
        guard
            let data = Data(base64Encoded: String(cleaned), options: []) ?? Data(base64Encoded: padded(String(cleaned)))
        else {
            throw .invalidRequest("\(key)[\(index)] is not valid base64")
        }
        return [UInt8](data)
    }

    static func padded(_ s: String) -> String {
        let urlSafe = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        return urlSafe + String(repeating: "=", count: (4 - urlSafe.count % 4) % 4)
    }
}
