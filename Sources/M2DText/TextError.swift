// Errors of the text side (tokenizer and text model inputs), each with a message a user can act on.

public enum TextError: Error, CustomStringConvertible, Equatable {
    /// A tokenizer vocabulary that cannot be used; the text names the file (or the in-memory list), the problem
    /// and the fix.
    case badVocabulary(String)

    public var description: String {
        switch self {
        case .badVocabulary(let message): "bad tokenizer vocabulary: \(message)"
        }
    }
}
