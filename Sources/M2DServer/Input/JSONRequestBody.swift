// JSONRequestBody: what the server reads of a JSON request, found in one scan of the body
// (docs/HTTP-API.md §2): the inputs (a string or a list of strings, as byte ranges of the body) and
// the options, at the top level and in `parameters`. Every other value is checked and skipped,
// never built, so a body costs its own bytes and nothing in proportion to what it holds.
import M2DJSON

struct JSONRequestBody {
    typealias Token = JSONScanner.Token

    /// The value of an inputs key.
    enum Inputs {
        case one(Token)
        /// The first `maxItems + 1` elements (enough to refuse a longer list) and how many there were.
        case list([Token], count: Int)
        case other(JSONScanner.Kind)
    }

    /// Nesting refused beyond this (a request needs three levels: body, inputs list, parameters).
    static let maxDepth = 32
    /// Option strings are names and short words; a longer one is refused rather than copied.
    static let maxOptionBytes = 1024

    /// Under the route's own key (`inputs` or `input`), or the other one: the route's wins.
    var inputs: Inputs?
    var otherInputs: Inputs?
    /// Zero-shot /classify's `candidate_labels` (a list of strings).
    var candidateLabels: Inputs?
    /// Known options in the order they apply: the top level's in document order, then `parameters`'
    /// (later duplicates win, as JSON objects read by most parsers do).
    var options: [(String, JSONOptionValue)] = []

    /// Scans `body`, which must be a JSON object.
    static func scan(
        _ body: UnsafeBufferPointer<UInt8>, inputKey: String, maxItems: Int, maxLabels: Int = 0
    ) throws(ServerError) -> JSONRequestBody {
        var scanner = JSONScanner(body, maxDepth: maxDepth)
        var result = JSONRequestBody(), parameters: [(String, JSONOptionValue)] = []
        let otherKey = inputKey == "inputs" ? "input" : "inputs"
        do {
            guard try scanner.peekKind() == .object else {
                _ = try scanner.value()
                try scanner.finish()
                throw ServerError.invalidRequest("the JSON body must be an object")
            }
            try scanner.enterObject()
            while let key = try scanner.nextKey() {
                switch name(of: key, in: scanner) {
                case inputKey: result.inputs = try inputs(&scanner, maxItems: maxItems)
                case otherKey: result.otherInputs = try inputs(&scanner, maxItems: maxItems)
                case "candidate_labels": result.candidateLabels = try inputs(&scanner, maxItems: maxLabels)
                case "parameters" where try scanner.peekKind() == .object:
                    parameters = try options(in: &scanner)
                case let name? where RequestOptions.jsonKeys.contains(name):
                    result.options.append((name, try option(&scanner)))
                default:
                    _ = try scanner.value()
                }
            }
            try scanner.finish()
        } catch let error as JSONScanner.ScanError {
            switch error {
            case .tooDeep: throw .invalidRequest("the JSON body is nested deeper than \(maxDepth) levels")
            case .invalid: throw .invalidRequest("the body is not valid JSON (\(error))")
            }
        } catch let error as ServerError {
            throw error
        } catch {
            throw .backend("JSON scan: \(error)")
        }
        result.options += parameters
        return result
    }

    /// A key's text when it can be an option or inputs key (longer keys are none of ours).
    private static func name(of key: Token, in scanner: JSONScanner) -> String? {
        key.range.count <= 64 ? scanner.unescaped(key) : nil
    }

    private static func inputs(_ scanner: inout JSONScanner, maxItems: Int) throws -> Inputs {
        switch try scanner.peekKind() {
        case .string: return .one(try scanner.value())
        case .array:
            try scanner.enterArray()
            var items: [Token] = [], count = 0
            while try scanner.nextElement() {
                let item = try scanner.value()
                if count <= maxItems { items.append(item) }
                count += 1
            }
            return .list(items, count: count)
        case let kind:
            _ = try scanner.value()
            return .other(kind)
        }
    }

    /// The known options of the object at the cursor (`parameters`).
    private static func options(in scanner: inout JSONScanner) throws -> [(String, JSONOptionValue)] {
        var found: [(String, JSONOptionValue)] = []
        try scanner.enterObject()
        while let key = try scanner.nextKey() {
            if let name = name(of: key, in: scanner), RequestOptions.jsonKeys.contains(name) {
                found.append((name, try option(&scanner)))
            } else {
                _ = try scanner.value()
            }
        }
        return found
    }

    private static func option(_ scanner: inout JSONScanner) throws -> JSONOptionValue {
        let token = try scanner.value()
        switch token.kind {
        case .string:
            return token.range.count <= maxOptionBytes ? .string(scanner.unescaped(token)) : .tooLong
        case .number:
            guard token.range.count <= 64 else { return .number(nil) }
            return .number(
                Double(String(decoding: UnsafeBufferPointer(rebasing: scanner.bytes[token.range]), as: UTF8.self)))
        case .bool: return .bool(token.bool)
        case .null: return .null
        case .array, .object: return .container
        }
    }
}
