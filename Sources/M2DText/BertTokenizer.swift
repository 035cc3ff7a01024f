// The BERT uncased WordPiece tokenizer, id for id the same as Hugging Face tokenizers'
// BertWordPieceTokenizer(vocab, lowercase: true) and transformers' BertTokenizer(do_lower_case: true)
// (checked on 12,000 strings and a sweep of 95,000 code points: tools/reference/tokenizer_corpus.py and
// Tests/M2DTextTests/TokenizerTests.swift).
// Hand-written because no Swift package for BERT WordPiece is among the Swift packages this project's machines
// allow (the env notes' swift-packages-b list has no tokenizer).
//
// HF's order: special tokens found in the raw text ([CLS] [SEP] [UNK] [PAD] [MASK], HF's added tokens), then for
// the text between them BertNormalizer and BertPreTokenizer (BertTokenizer+Basic.swift), then WordPiece here.
// Everything works on Unicode scalars (Rust chars), never on Characters, and compares tokens by their UTF-8 bytes.
import Foundation

public struct BertTokenizer: Sendable {
    /// id -> token, one per line of vocab.txt.
    public let vocabulary: [String]
    public let clsId: Int32, sepId: Int32, unkId: Int32, padId: Int32
    let lowercase: Bool

    /// Token UTF-8 bytes -> id. Not keyed by String: Swift's String == is canonical equivalence ("é" == "e\u{301}",
    /// a Hangul syllable == its jamo, which NFD makes), where HF's map compares bytes.
    let idsByBytes: [[UInt8]: Int32]
    /// No vocabulary entry is longer, so WordPiece need not try longer pieces.
    let longestTokenBytes: Int
    /// The special tokens HF matches in the raw text before normalizing, with their ids.
    let specialTokens: [SpecialToken]

    struct SpecialToken: Sendable {
        let bytes: [UInt8]
        let id: Int32
    }

    /// HF WordPiece's max_input_chars_per_word: a longer word (in scalars) is [UNK].
    static let maxScalarsPerWord = 100
    static let maxFileBytes = 8 << 20
    static let maxVocabularySize = 1_000_000

    /// Reads vocab.txt as HF does: one token per line, id = line index, trailing whitespace (a "\r" too) trimmed.
    public init(vocabularyFile path: String, lowercase: Bool = true) throws(TextError) {
        let fix = "pass the vocab.txt of a BERT uncased checkpoint (one token per line)"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .badVocabulary("\(path) does not exist: \(fix)")
        }
        guard !isDirectory.boolValue else { throw .badVocabulary("\(path) is a folder, not a file: \(fix)") }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size <= Self.maxFileBytes else {
            throw .badVocabulary("\(path) has \(size) bytes, over the 8 MB a vocabulary may have: \(fix)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .badVocabulary("\(path) cannot be read (check its permissions): \(fix)")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw .badVocabulary("\(path) is not UTF-8 text: \(fix)")
        }
        // Rust's BufRead::lines: split at "\n", no empty last line after a final "\n"; then str::trim_end. On
        // scalars: as Characters, "\r\n" is one, which a split at "\n" would not cut.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard lines.count <= Self.maxVocabularySize else {
            throw .badVocabulary("\(path) has \(lines.count) lines, over the 1,000,000 a vocabulary may have: \(fix)")
        }
        let tokens = lines.map { line in
            var scalars = line
            while let last = scalars.last, BertBasicTokenizer.isWhitespace(last.value) { scalars.removeLast() }
            return String(scalars)
        }
        try self.init(tokens: tokens, lowercase: lowercase, source: path, fix: fix)
    }

    public init(vocabulary: [String], lowercase: Bool = true) throws(TextError) {
        try self.init(
            tokens: vocabulary, lowercase: lowercase, source: "the vocabulary list",
            fix: "give one token per id, the specials among them")
    }

    private init(tokens: [String], lowercase: Bool, source: String, fix: String) throws(TextError) {
        guard !tokens.isEmpty else { throw .badVocabulary("\(source) is empty: \(fix)") }
        guard tokens.count <= Self.maxVocabularySize else {
            throw .badVocabulary("\(source) has \(tokens.count) tokens, over 1,000,000: \(fix)")
        }
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() {
            ids[Array(token.utf8)] = Int32(id)  // a repeated token keeps its last id, as HF's map insert does
        }
        let required = ["[CLS]", "[SEP]", "[UNK]", "[PAD]"]
        let missing = required.filter { ids[Array($0.utf8)] == nil }
        guard missing.isEmpty else {
            throw .badVocabulary(
                "\(source) has no \(missing.joined(separator: ", ")) line (BERT vocabularies list [PAD], [UNK],"
                    + " [CLS], [SEP] and [MASK]): \(fix)")
        }
        func id(_ token: String) -> Int32 { ids[Array(token.utf8)]! }
        vocabulary = tokens
        clsId = id("[CLS]")
        sepId = id("[SEP]")
        unkId = id("[UNK]")
        padId = id("[PAD]")
        self.lowercase = lowercase
        idsByBytes = ids
        longestTokenBytes = ids.keys.map(\.count).max() ?? 0
        // HF's BertWordPieceTokenizer makes these five special when the vocabulary has them.
        specialTokens = (required + ["[MASK]"]).compactMap { token in
            ids[Array(token.utf8)].map { SpecialToken(bytes: Array(token.utf8), id: $0) }
        }
    }

    /// WordPiece tokens of `text` (no [CLS]/[SEP]).
    public func tokens(_ text: String) -> [String] {
        wordPieceIds(text).map { vocabulary[Int($0)] }
    }

    /// ids of [CLS] tokens... [SEP]; with maxLength, truncated as HF does (keep the first maxLength-2 wordpieces,
    /// then [SEP]). A maxLength below 2 gives [CLS] [SEP] (HF would not truncate at all then).
    public func encode(_ text: String, maxLength: Int? = nil) -> [Int32] {
        var pieces = wordPieceIds(text)
        if let maxLength, pieces.count > maxLength - 2 { pieces.removeLast(pieces.count - max(0, maxLength - 2)) }
        return [clsId] + pieces + [sepId]
    }

    /// The count encode would give without truncation (for 422 "text over 512 tokens" checks).
    public func tokenCount(_ text: String) -> Int {
        wordPieceIds(text).count + 2
    }

    /// The ids between [CLS] and [SEP]: special tokens written in the text are their ids, as in HF; the text
    /// between them is normalized, split into words and each word into WordPieces.
    func wordPieceIds(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        // Slices of the scalar view, not of Characters: a special token may start or end inside a grapheme
        // cluster ("\u{600}[MASK]", "[MASK]\u{301}"), and the scalars are what HF works on.
        let scalars = text.unicodeScalars
        let utf8 = text.utf8
        var segmentStart = utf8.startIndex
        var index = utf8.startIndex
        while index < utf8.endIndex {
            // All five start with "[", and none is a prefix of another: HF's leftmost-longest match is the first.
            if utf8[index] == UInt8(ascii: "["),
                let special = specialTokens.first(where: { utf8[index...].starts(with: $0.bytes) })
            {
                appendWordPieces(of: scalars[segmentStart..<index], to: &ids)
                ids.append(special.id)
                index = utf8.index(index, offsetBy: special.bytes.count)
                segmentStart = index
            } else {
                index = utf8.index(after: index)
            }
        }
        appendWordPieces(of: scalars[segmentStart..<utf8.endIndex], to: &ids)
        return ids
    }

    private func appendWordPieces(of segment: Substring.UnicodeScalarView, to ids: inout [Int32]) {
        guard !segment.isEmpty else { return }
        let normalized = BertBasicTokenizer.normalize(segment, lowercase: lowercase)
        BertBasicTokenizer.forEachWord(in: normalized) { word in appendWordPieces(ofWord: word, to: &ids) }
    }

    /// HF WordPiece: greedy longest match first, later pieces prefixed "##"; a word with a part no piece matches,
    /// or with more than 100 scalars, is one [UNK].
    private func appendWordPieces(ofWord word: ArraySlice<Unicode.Scalar>, to ids: inout [Int32]) {
        guard word.count <= Self.maxScalarsPerWord else {
            ids.append(unkId)
            return
        }
        var bytes: [UInt8] = []
        var boundaries = [0]  // byte offset where each scalar starts, and the end
        for scalar in word {
            UTF8.encode(scalar) { bytes.append($0) }
            boundaries.append(bytes.count)
        }
        let count = word.count
        let firstPiece = ids.count
        var key: [UInt8] = []
        var start = 0
        while start < count {
            let prefix = start > 0 ? 2 : 0
            var end = count
            var found: Int32?
            while end > start {
                if prefix + boundaries[end] - boundaries[start] <= longestTokenBytes {
                    key.removeAll(keepingCapacity: true)
                    if prefix > 0 { key.append(contentsOf: [UInt8(ascii: "#"), UInt8(ascii: "#")]) }
                    key.append(contentsOf: bytes[boundaries[start]..<boundaries[end]])
                    if let id = idsByBytes[key] {
                        found = id
                        break
                    }
                }
                end -= 1
            }
            guard let id = found else {
                ids.removeLast(ids.count - firstPiece)
                ids.append(unkId)
                return
            }
            ids.append(id)
            start = end
        }
    }
}
