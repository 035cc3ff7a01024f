// RequestOptions: the options of /embed, /v1/embeddings and /classify, parsed from whichever form
// the request used (query string, form fields, JSON keys). Bad values are 422 naming the option.
import Foundation

public struct RequestOptions: Sendable, Equatable {
    public enum EncodingFormat: String, Sendable { case float, base64 }
    public enum Granularity: String, Sendable { case clip, frames }
    public enum Activation: String, Sendable { case softmax, sigmoid, none }
    public enum Projection: String, Sendable { case none, clap }

    public var normalize = false
    public var encodingFormat = EncodingFormat.float
    public var granularity = Granularity.clip
    public var model: String?
    public var dimensions: Int?
    public var head: String?
    public var topK: Int?
    public var functionToApply: Activation?
    public var projection = Projection.none
    /// Texts: cut those longer than the text encoder's positions instead of refusing them.
    public var truncate = false
    /// Zero-shot /classify: the prompt each candidate label is put in ("{}" marks the label).
    public var hypothesisTemplate: String?
    /// "audio" (default) or "text".
    public var modality = "audio"

    public init() {}

    /// Longest hypothesis_template: a sentence around the label.
    public static let maxTemplateBytes = 1024

    /// Applies one option given as text (query, form field). Unknown keys are ignored.
    public mutating func apply(key: String, text: String) throws(ServerError) {
        switch key {
        case "normalize", "truncate":
            let value: Bool
            switch text.lowercased() {
            case "true", "1", "yes": value = true
            case "false", "0", "no", "": value = false
            default: throw .validation("\(key) must be true or false, got '\(text)'", param: key)
            }
            if key == "normalize" { normalize = value } else { truncate = value }
        case "hypothesis_template":
            // One label per prompt: a template with many {} would multiply every label's bytes.
            guard text.utf8.count <= Self.maxTemplateBytes, text.components(separatedBy: "{}").count == 2 else {
                throw .validation(
                    "hypothesis_template must contain {} once, where the label goes, in at most "
                        + "\(Self.maxTemplateBytes) bytes", param: key)
            }
            hypothesisTemplate = text
        case "modality":
            guard text == "audio" || text == "text" else {
                throw .validation("modality must be 'audio' or 'text', got '\(text)'", param: key)
            }
            modality = text
        case "encoding_format":
            guard let v = EncodingFormat(rawValue: text) else {
                throw .validation(
                    "encoding_format must be 'float' or 'base64', got '\(text)'", param: "encoding_format")
            }
            encodingFormat = v
        case "granularity":
            guard let v = Granularity(rawValue: text) else {
                throw .validation("granularity must be 'clip' or 'frames', got '\(text)'", param: "granularity")
            }
            granularity = v
        case "model": model = text
        case "dimensions":
            guard let v = Int(text) else { throw .validation("dimensions must be an integer", param: "dimensions") }
            dimensions = v
        case "head": head = text
        case "top_k":
            guard let v = Int(text), v >= 1 else {
                throw .validation("top_k must be an integer >= 1, got '\(text)'", param: "top_k")
            }
            topK = v
        case "projection":
            guard let v = Projection(rawValue: text) else {
                throw .validation("projection must be 'none' or 'clap', got '\(text)'", param: "projection")
            }
            projection = v
        case "function_to_apply":
            guard let v = Activation(rawValue: text) else {
                throw .validation(
                    "function_to_apply must be softmax, sigmoid or none, got '\(text)'", param: "function_to_apply")
            }
            functionToApply = v
        default: break
        }
    }

    /// The keys `apply(key:json:)` reads (every other key of a JSON body is skipped unread).
    static let jsonKeys: Set<String> = [
        "normalize", "encoding_format", "granularity", "model", "dimensions", "head", "top_k", "projection",
        "function_to_apply", "modality", "truncate", "hypothesis_template",
    ]

    /// Applies one option given as a JSON value, with JSON types checked (no 1 for true).
    mutating func apply(key: String, json value: JSONOptionValue) throws(ServerError) {
        if case .null = value { return }
        switch key {
        case "normalize", "truncate":
            guard case let .bool(b) = value else { throw .validation("\(key) must be true or false", param: key) }
            if key == "normalize" { normalize = b } else { truncate = b }
        case "top_k", "dimensions":
            guard case let .number(x?) = value, x.isFinite, x == x.rounded(), abs(x) < 9e15 else {
                throw .validation("\(key) must be an integer", param: key)
            }
            try apply(key: key, text: String(Int(x)))
        case "encoding_format", "granularity", "model", "head", "function_to_apply", "modality", "projection",
            "hypothesis_template":
            if case .tooLong = value {
                throw .validation("\(key) is longer than \(JSONRequestBody.maxOptionBytes) bytes", param: key)
            }
            guard case let .string(text) = value else { throw .validation("\(key) must be a string", param: key) }
            try apply(key: key, text: text)
        default:
            break
        }
    }
}

/// An option's value in a JSON body, as JSONRequestBody found it.
enum JSONOptionValue: Equatable {
    case string(String)
    /// A string too long to be any option's value (not copied out of the body).
    case tooLong
    /// nil: not representable as a Double (more than 64 characters).
    case number(Double?)
    case bool(Bool)
    case null
    /// An array or an object.
    case container
}
