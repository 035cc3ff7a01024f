// InputParser: turns any accepted request form into inputs + options (docs/HTTP-API.md §2):
// multipart field `file` (repeatable; `file[]` and `data` too), a raw audio body, or JSON
// {"inputs": base64 | data URI | [...]} ({"input": ...} on /v1/embeddings).
import Foundation
import M2DAudio
import M2DJSON

public enum InputParser {
    /// Form fields that carry audio.
    static let audioFields: Set<String> = ["file", "file[]", "data", "files", "audio"]

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
                if audioFields.contains(part.name) {
                    inputs.append(AudioInput(name: part.filename ?? "input[\(inputs.count)]", bytes: part.data))
                } else {
                    try options.apply(key: part.name, text: part.text)
                }
            }
            for (k, v) in request.head.query { try options.apply(key: k, text: v) }
            if inputs.isEmpty { throw .empty("no audio in the form; send the file in a field named 'file'") }
        case "application/json":
            for (k, v) in request.head.query { try options.apply(key: k, text: v) }
            inputs = try parseJSON(request, inputKey: jsonInputKey, maxItems: maxItems, options: &options)
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
        if options.modality != "audio" {
            throw .validation(
                "modality 'text' is for /v1/embeddings and /embed/text; this route takes audio", param: "modality")
        }
        if inputs.count > maxItems { throw tooManyInputs(inputs.count, maxItems) }
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

    /// The inputs and options of a JSON body, in one scan of its bytes; each input is decoded from
    /// the body straight into its own bytes, after the upload budget has been charged for them.
    static func parseJSON(
        _ request: HTTPRequest, inputKey: String, maxItems: Int, options: inout RequestOptions
    ) throws(ServerError) -> [AudioInput] {
        if request.body.isEmpty { throw .empty("the JSON body is empty") }
        return try request.body.withUnsafeBufferPointer { raw throws(ServerError) -> [AudioInput] in
            let body = try JSONRequestBody.scan(raw, inputKey: inputKey, maxItems: maxItems)
            guard let found = body.inputs ?? body.otherInputs else {
                throw .empty("the JSON body has no '\(inputKey)' field")
            }
            for (key, value) in body.options { try options.apply(key: key, json: value) }
            let items: [JSONScanner.Token]
            switch found {
            case let .one(token): items = [token]
            case let .list(tokens, count):
                if count == 0 { throw .empty("'\(inputKey)' is an empty list") }
                if let bad = tokens.firstIndex(where: { $0.kind != .string }) {
                    throw .invalidRequest("\(inputKey)[\(bad)] must be a string (base64 or data URI)")
                }
                if count > maxItems { throw tooManyInputs(count, maxItems) }
                items = tokens
            case .other:
                throw .invalidRequest("'\(inputKey)' must be a base64 string, a data URI, or a list of them")
            }
            let decodedBytes = items.reduce(0) { $0 + Base64Audio.decodedBound($1) }
            if let reservation = request.uploadReservation, !reservation.grow(by: decodedBytes) {
                throw .uploadBudgetSpent(limit: reservation.capacity)
            }
            let scanner = JSONScanner(raw, maxDepth: JSONRequestBody.maxDepth)
            return try items.enumerated().map { (i, token) throws(ServerError) in
                AudioInput(
                    name: "\(inputKey)[\(i)]",
                    bytes: try Base64Audio.decode(token, in: scanner, index: i, key: inputKey))
            }
        }
    }

    static func tooManyInputs(_ count: Int, _ maxItems: Int) -> ServerError {
        .payloadTooLarge("\(count) inputs in one request; the limit is \(maxItems) (--max-client-batch-size)")
    }
}
