// TextRequest: the texts of a request (docs/HTTP-API.md §3.5): JSON {"input": string | [strings]} ("inputs"
// on native routes) or form fields of that name, and zero-shot /classify's candidate labels (a JSON list, or
// repeated form fields). Counts and sizes are checked on the body's bytes before a string is built.
import Foundation
import M2DJSON

enum TextRequest {
    /// The texts and options of a JSON or form body; nil when the body asks for audio (no modality "text").
    static func texts(
        _ request: HTTPRequest, key: String, maxTexts: Int, maxTextBytes: Int, requireTextModality: Bool
    ) throws(ServerError) -> ([String], RequestOptions)? {
        var options = RequestOptions()
        for (k, v) in request.head.query { try options.apply(key: k, text: v) }
        switch request.head.mediaType {
        case "application/json":
            if request.body.isEmpty { throw .empty("the JSON body is empty") }
            // An audio body (megabytes of base64) is not scanned twice: without the key it cannot ask for text.
            // (A key written with escapes is still read by the audio parser, which refuses modality=text.)
            if requireTextModality && options.modality != "text" && !contains(request.body, "\"modality\"") {
                return nil
            }
            return try request.body.withUnsafeBufferPointer { raw throws(ServerError) -> ([String], RequestOptions)? in
                let body = try JSONRequestBody.scan(raw, inputKey: key, maxItems: maxTexts)
                for (k, value) in body.options { try options.apply(key: k, json: value) }
                if requireTextModality && options.modality != "text" { return nil }
                guard let found = body.inputs ?? body.otherInputs else {
                    throw .empty("the JSON body has no '\(key)' field (a string or a list of strings)")
                }
                let scanner = JSONScanner(raw, maxDepth: JSONRequestBody.maxDepth)
                return (try strings(found, key: key, max: maxTexts, maxBytes: maxTextBytes, scanner: scanner), options)
            }
        case "multipart/form-data", "application/x-www-form-urlencoded":
            // An audio form is left alone before any part is read as text (a file part may be megabytes).
            if requireTextModality && options.modality != "text"
                && !request.parts.contains(where: { $0.name == "modality" && $0.filename == nil && $0.text == "text" })
            {
                return nil
            }
            var texts: [String] = []
            for part in request.parts where part.filename == nil {
                if part.name == key || part.name == key + "[]" {
                    texts.append(part.text)
                    if texts.count > maxTexts { throw tooMany(key, maxTexts) }
                } else {
                    try options.apply(key: part.name, text: part.text)
                }
            }
            if requireTextModality && options.modality != "text" { return nil }
            if texts.isEmpty { throw .empty("no '\(key)' field in the form") }
            return (texts, options)
        default:
            if requireTextModality { return nil }
            throw .unsupportedMediaType("texts come as application/json {\"\(key)\": [...]} or form fields '\(key)'")
        }
    }

    /// The candidate labels of a zero-shot /classify request (JSON list or repeated form fields), nil when absent.
    /// With the request's options, read in the same scan of a JSON body.
    static func candidateLabels(
        _ request: HTTPRequest, maxLabels: Int, maxBytes: Int
    ) throws(ServerError)
        -> (labels: [String], options: RequestOptions)?
    {
        switch request.head.mediaType {
        case "application/json":
            if request.body.isEmpty || !contains(request.body, "\"candidate_labels\"") { return nil }
            return try request.body.withUnsafeBufferPointer {
                raw throws(ServerError) -> (labels: [String], options: RequestOptions)? in
                let body = try JSONRequestBody.scan(raw, inputKey: "inputs", maxItems: 0, maxLabels: maxLabels)
                guard let found = body.candidateLabels else { return nil }
                if case .other(.null) = found { return nil }  // null means the default: no zero-shot
                var options = RequestOptions()
                for (k, v) in request.head.query { try options.apply(key: k, text: v) }
                for (k, value) in body.options { try options.apply(key: k, json: value) }
                let scanner = JSONScanner(raw, maxDepth: JSONRequestBody.maxDepth)
                let labels = try strings(
                    found, key: "candidate_labels", max: maxLabels, maxBytes: maxBytes, scanner: scanner)
                return (labels, options)
            }
        case "multipart/form-data", "application/x-www-form-urlencoded":
            let labels = request.parts.filter { $0.name == "candidate_labels" || $0.name == "candidate_labels[]" }
            if labels.isEmpty { return nil }
            if labels.count > maxLabels { throw tooMany("candidate_labels", maxLabels) }
            // One field may also hold them comma-separated, as transformers' pipeline accepts a string (split at
            // most maxLabels times, so a field of commas cannot make more strings than the limit allows).
            // Counted on the bytes first: a field of millions of commas is refused before any string is built.
            if labels.count == 1, labels[0].data.reduce(0, { $0 + ($1 == UInt8(ascii: ",") ? 1 : 0) }) >= maxLabels {
                throw tooMany("candidate_labels", maxLabels)
            }
            if labels.count == 1, labels[0].data.count > maxLabels * (maxBytes + 1) {
                throw tooBig("candidate_labels", 0, maxBytes)
            }
            let one = labels.count == 1 ? labels[0].text.trimmingCharacters(in: .whitespaces) : nil
            if one?.isEmpty == true { return ([], try options(request)) }
            let texts =
                one?.split(separator: ",", maxSplits: maxLabels, omittingEmptySubsequences: false).map {
                    $0.trimmingCharacters(in: .whitespaces)
                } ?? labels.map(\.text)
            if texts.count > maxLabels { throw tooMany("candidate_labels", maxLabels) }
            for (i, t) in texts.enumerated() where t.utf8.count > maxBytes {
                throw tooBig("candidate_labels", i, maxBytes)
            }
            return (texts, try options(request))
        default:
            return nil
        }
    }

    /// The options of any request form, without reading its inputs (query, JSON options, non-file form fields).
    static func options(_ request: HTTPRequest) throws(ServerError) -> RequestOptions {
        var options = RequestOptions()
        for (k, v) in request.head.query { try options.apply(key: k, text: v) }
        switch request.head.mediaType {
        case "application/json" where !request.body.isEmpty:
            let body = try request.body.withUnsafeBufferPointer { raw throws(ServerError) in
                try JSONRequestBody.scan(raw, inputKey: "inputs", maxItems: 0)
            }
            for (k, value) in body.options { try options.apply(key: k, json: value) }
        case "multipart/form-data", "application/x-www-form-urlencoded":
            for part in request.parts
            where part.filename == nil && !part.name.hasPrefix("candidate_labels")
                && !InputParser.audioFields.contains(part.name)
            {
                try options.apply(key: part.name, text: part.text)
            }
        default: break
        }
        return options
    }

    private static func strings(
        _ found: JSONRequestBody.Inputs, key: String, max: Int, maxBytes: Int, scanner: JSONScanner
    ) throws(ServerError) -> [String] {
        let tokens: [JSONScanner.Token]
        switch found {
        case let .one(token): tokens = [token]
        case let .list(items, count):
            if count == 0 { throw .empty("'\(key)' is an empty list") }
            if count > max { throw tooMany(key, max) }
            if let bad = items.firstIndex(where: { $0.kind != .string }) {
                throw .invalidRequest("\(key)[\(bad)] must be a string")
            }
            tokens = items
        case .other: throw .invalidRequest("'\(key)' must be a string or a list of strings")
        }
        // An escaped character takes at most 6 body bytes (\uXXXX) for 1 to 3 of UTF-8: 6x bounds the text.
        for (i, token) in tokens.enumerated() where token.range.count > 6 * maxBytes { throw tooBig(key, i, maxBytes) }
        return tokens.map { scanner.unescaped($0) }
    }

    /// Whether `needle` occurs in `body`: memchr to each candidate first byte, then memcmp (far cheaper than a
    /// JSON scan of the same bytes: base64 never holds the quote the needles start with).
    static func contains(_ body: [UInt8], _ needle: String) -> Bool {
        let pattern = Array(needle.utf8)
        guard let first = pattern.first else { return true }
        return body.withUnsafeBytes { hay in
            pattern.withUnsafeBytes { p in
                guard let base = hay.baseAddress else { return false }
                var offset = 0
                while offset + p.count <= hay.count {
                    guard let hit = memchr(base + offset, Int32(first), hay.count - offset - p.count + 1) else {
                        return false
                    }
                    if memcmp(hit, p.baseAddress!, p.count) == 0 { return true }
                    offset = base.distance(to: UnsafeRawPointer(hit)) + 1
                }
                return false
            }
        }
    }

    static func tooMany(_ key: String, _ max: Int) -> ServerError {
        .payloadTooLarge("more than \(max) \(key) in one request (--max-texts)")
    }

    static func tooBig(_ key: String, _ index: Int, _ max: Int) -> ServerError {
        .payloadTooLarge("\(key)[\(index)] is over \(max) bytes (--max-text-bytes)")
    }
}
