// The BERT uncased WordPiece tokenizer against Hugging Face: the corpus of tools/reference/tokenizer_corpus.py
// (made at set-up by scripts/text-fixtures.sh with the bert-base-uncased vocab.txt), then small cases on tiny
// vocabularies whose expected ids were taken from tokenizers' BertWordPieceTokenizer, and bad vocabulary files.
import Foundation
@testable import M2DText
import Testing
import TestSupport

@Suite struct TokenizerCorpusTests {
    struct Entry: Decodable {
        let text: String
        let ids: [Int32]
        /// HF BertNormalizer's output, on the code point sweep lines only.
        let normalized: String?
    }

    struct UnreadableCorpus: Error, CustomStringConvertible { let description: String }

    /// Read once for the three tests (6 MB).
    static let corpus = Result<[Entry], any Error> {
        let path = try Fixtures.generated("tokenizer_corpus.jsonl")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UnreadableCorpus(description: "\(path) cannot be read: run scripts/text-fixtures.sh")
        }
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).map { try decoder.decode(Entry.self, from: Data($0)) }
    }

    /// Non-ASCII and control scalars written as \u{...}, so a failure shows what the string really holds.
    static func escaped(_ text: String, limit: Int = 160) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(limit) {
            out += (0x20..<0x7F).contains(scalar.value) ? String(scalar) : "\\u{\(String(scalar.value, radix: 16))}"
        }
        return "\"" + out + (text.unicodeScalars.count > limit ? "...\"" : "\"")
    }

    @Test func everyCorpusStringGivesHuggingFacesIds() throws {
        let tokenizer = try BertTokenizer(vocabularyFile: try Fixtures.generated("vocab.txt"))
        let corpus = try Self.corpus.get()
        #expect(corpus.count >= 10_000, "the corpus has \(corpus.count) lines: rerun scripts/text-fixtures.sh")
        var mismatches: [String] = []
        var countMismatches = 0
        for entry in corpus {
            let ids = tokenizer.encode(entry.text)
            if ids != entry.ids {
                let text = Self.escaped(entry.text)
                mismatches.append("\(text)\n  ours \(ids.prefix(40))\n  HF   \(entry.ids.prefix(40))")
            }
            // tokenCount and tokens go the same way as encode.
            if tokenizer.tokenCount(entry.text) != entry.ids.count
                || tokenizer.tokens(entry.text).count != entry.ids.count - 2
            {
                countMismatches += 1
            }
        }
        let first = mismatches.prefix(5).joined(separator: "\n")
        #expect(
            mismatches.isEmpty, "\(mismatches.count) of \(corpus.count) strings differ from HF; the first:\n\(first)")
        #expect(countMismatches == 0, "tokenCount or tokens disagree with HF's id count on \(countMismatches) strings")
    }

    /// The sweep lines hold every code point outside the large uniform ranges: the normalizer must give HF's
    /// scalars exactly, a check that does not depend on what the vocabulary happens to hold.
    @Test func normalizerGivesHuggingFacesScalarsOnTheCodePointSweep() throws {
        let corpus = try Self.corpus.get()
        let sweep = corpus.compactMap { entry in entry.normalized.map { (text: entry.text, normalized: $0) } }
        #expect(sweep.count >= 1_000, "only \(sweep.count) sweep lines: rerun scripts/text-fixtures.sh")
        var mismatches: [String] = []
        for line in sweep {
            let ours = BertBasicTokenizer.normalize(line.text.unicodeScalars[...], lowercase: true)
            let expected = Array(line.normalized.unicodeScalars)  // scalars, not String ==, which is canonical
            guard ours != expected else { continue }
            let at =
                zip(ours, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(ours.count, expected.count)
            let ourScalars = ours[at...].prefix(6).map { String($0.value, radix: 16) }
            let hfScalars = expected[at...].prefix(6).map { String($0.value, radix: 16) }
            mismatches.append(
                "scalar \(at) of \(Self.escaped(line.text, limit: 40)): ours \(ourScalars) HF \(hfScalars)")
        }
        let first = mismatches.prefix(5).joined(separator: "\n")
        #expect(mismatches.isEmpty, "\(mismatches.count) sweep lines differ; the first:\n\(first)")
    }

    /// M2DText is built with -O in debug builds too, so this is the release speed (about 0.07 s here): a second
    /// leaves room for a loaded machine.
    @Test func tenThousandShortStringsTokenizeInUnderASecond() throws {
        let tokenizer = try BertTokenizer(vocabularyFile: try Fixtures.generated("vocab.txt"))
        let short = try Self.corpus.get().prefix(12_000).map { $0.text }.filter { $0.utf8.count <= 80 }
        try #require(short.count >= 1_000)
        let texts = (0..<10_000).map { short[$0 % short.count] }
        var total = 0
        let elapsed = ContinuousClock().measure { for text in texts { total += tokenizer.encode(text).count } }
        #expect(total >= texts.count * 2)
        #expect(elapsed < .seconds(1), "\(texts.count) strings took \(elapsed)")
    }
}

@Suite struct TokenizerCaseTests {
    /// [CLS] at index 10, not 101, and [UNK] at 2, not 100: the ids must be looked up.
    static let vocabulary = [
        "[PAD]", "un", "[UNK]", "##aff", "##able", "[SEP]", "dog", "bark", "##ing", "!", "[CLS]", "##s", "a", "##a",
        "ab", "##c", "[MASK]", "##bc", "한", "é", "[", "]", "mask",
    ]
    static func tokenizer(lowercase: Bool = true) throws -> BertTokenizer {
        try BertTokenizer(vocabulary: vocabulary, lowercase: lowercase)
    }

    @Test func specialIdsAreLookedUpInTheVocabulary() throws {
        let tokenizer = try Self.tokenizer()
        #expect([tokenizer.clsId, tokenizer.sepId, tokenizer.unkId, tokenizer.padId] == [10, 5, 2, 0])
        #expect(tokenizer.encode("dog") == [10, 6, 5])
    }

    @Test func wordPiecesAreTheLongestMatchFirst() throws {
        let tokenizer = try Self.tokenizer()
        #expect(tokenizer.tokens("unaffable") == ["un", "##aff", "##able"])
        #expect(tokenizer.tokens("barking dogs!") == ["bark", "##ing", "dog", "##s", "!"])
        #expect(tokenizer.tokens("abc") == ["ab", "##c"])
        #expect(tokenizer.tokens("abbc") == ["ab", "##bc"])
    }

    @Test func greedyMatchingDoesNotBacktrack() throws {
        // "a" + "##bc" would cover "abc", but HF takes "ab" first, then finds no "##c": the word is [UNK].
        let tokenizer = try BertTokenizer(vocabulary: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "ab", "##bc"])
        #expect(tokenizer.tokens("abc") == ["[UNK]"])
    }

    @Test func aWordWithAnUnmatchablePartIsOneUnknown() throws {
        let tokenizer = try Self.tokenizer()
        #expect(tokenizer.tokens("dogx") == ["[UNK]"])  // not "dog" + [UNK]
        #expect(tokenizer.encode("xyz dog") == [10, 2, 6, 5])
    }

    @Test func wordsOverOneHundredScalarsAreUnknown() throws {
        let tokenizer = try Self.tokenizer()
        #expect(tokenizer.tokens(String(repeating: "a", count: 100)) == ["a"] + Array(repeating: "##a", count: 99))
        #expect(tokenizer.tokens(String(repeating: "a", count: 101)) == ["[UNK]"])
        // Scalars are counted after normalization: the accents are stripped first.
        #expect(tokenizer.tokens(String(repeating: "a\u{301}", count: 100)).count == 100)
    }

    @Test func truncationKeepsTheFirstPiecesAndTheSeparator() throws {
        let tokenizer = try Self.tokenizer()
        #expect(tokenizer.encode("dog dog dog", maxLength: 4) == [10, 6, 6, 5])
        #expect(tokenizer.encode("dog dog dog", maxLength: 5) == [10, 6, 6, 6, 5])
        #expect(tokenizer.encode("dog dog dog", maxLength: 512) == [10, 6, 6, 6, 5])
        #expect(tokenizer.encode("dog dog dog", maxLength: 2) == [10, 5])
        #expect(tokenizer.tokenCount("dog dog dog") == 5)
    }

    @Test func emptyBlankAndControlOnlyTextsAreJustClsAndSep() throws {
        let tokenizer = try Self.tokenizer()
        for text in ["", " \t\n\r", "\u{0}\u{200B}\u{FEFF}\u{FFFD}", "\u{3000}\u{A0}"] {
            #expect(tokenizer.encode(text) == [10, 5], "\(TokenizerCorpusTests.escaped(text))")
        }
    }

    @Test func specialTokensWrittenInTheTextAreTheirIds() throws {
        // HF matches its special tokens in the raw text, case-sensitively, before normalizing.
        let tokenizer = try Self.tokenizer()
        #expect(tokenizer.encode("dog [MASK] bark") == [10, 6, 16, 7, 5])
        #expect(tokenizer.encode("dog[SEP]dog") == [10, 6, 5, 6, 5])
        #expect(tokenizer.tokens("[mask]") == ["[", "mask", "]"])
    }

    @Test func accentsAreStrippedAndCaseIsFolded() throws {
        let tokenizer = try Self.tokenizer()
        #expect(tokenizer.tokens("DÖG Dog\u{301}") == ["dog", "dog"])
        // é and its decomposition both lose the accent before the lookup, so the vocabulary's "é" never matches.
        #expect(tokenizer.tokens("\u{E9} e\u{301}") == ["[UNK]", "[UNK]"])
        let cased = try Self.tokenizer(lowercase: false)
        #expect(cased.tokens("DÖG") == ["[UNK]"])
    }

    @Test func tokensAreComparedByTheirBytesNotByCanonicalEquivalence() throws {
        // Swift's String == says "é" == "e\u{301}" and "한" == its jamo; HF compares bytes. NFD (lowercase) turns
        // "한" into three jamo, none in this vocabulary.
        #expect(try Self.tokenizer().tokens("한") == ["[UNK]"])
        let cased = try Self.tokenizer(lowercase: false)  // no NFD: the text's own bytes are looked up
        #expect(cased.tokens("\u{E9}") == ["é"])
        #expect(cased.tokens("e\u{301}") == ["[UNK]"])
        #expect(cased.tokens("한") == ["한"])
    }

    @Test func aRepeatedTokenKeepsItsLastId() throws {
        // HF's vocabulary map keeps the last line of a repeated token (and transformers' load_vocab too).
        let tokenizer = try BertTokenizer(vocabulary: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "dog", "dog"])
        #expect(tokenizer.encode("dog") == [2, 5, 3])
        #expect(tokenizer.vocabulary.count == 6)
    }

    @Test func aVocabularyWithoutUnknownIsAClearError() throws {
        let withoutUnknown = Self.vocabulary.filter { $0 != "[UNK]" }
        let error = #expect(throws: TextError.self) { _ = try BertTokenizer(vocabulary: withoutUnknown) }
        guard case .badVocabulary(let message) = error else { return }
        #expect(message.contains("has no [UNK] line"), "\(message)")
        let empty = #expect(throws: TextError.self) { _ = try BertTokenizer(vocabulary: []) }
        #expect(empty?.description.contains("empty") == true)
    }
}

@Suite struct VocabularyFileTests {
    static func write(_ bytes: [UInt8], name: String = "vocab.txt") -> String {
        let path = Fixtures.temporaryDirectory() + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// The error's message for `path`, which must name the file.
    static func message(loading path: String) throws -> String {
        do {
            _ = try BertTokenizer(vocabularyFile: path)
        } catch {
            #expect(error.description.contains(path), "the message does not name the file: \(error)")
            return error.description
        }
        Issue.record("\(path) loaded")
        return ""
    }

    @Test func linesAreIdsWithTrailingWhitespaceAndCarriageReturnsTrimmed() throws {
        let path = Self.write(Array("[PAD]\r\n[UNK]\r\n[CLS]  \n[SEP]\t\r\ndog\n".utf8))
        let tokenizer = try BertTokenizer(vocabularyFile: path)
        #expect(tokenizer.vocabulary == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "dog"])
        #expect(tokenizer.encode("Dog") == [2, 4, 3])
    }

    @Test func aMissingFileIsAClearError() throws {
        let path = Fixtures.temporaryDirectory() + "/no-such-vocab.txt"
        #expect(try Self.message(loading: path).contains("does not exist"))
    }

    @Test func anEmptyFileIsAClearError() throws {
        #expect(try Self.message(loading: Self.write([])).contains("empty"))
    }

    @Test func missingSpecialTokensAreNamed() throws {
        let message = try Self.message(loading: Self.write(Array("[PAD]\n[UNK]\ndog\n".utf8)))
        #expect(message.contains("has no [CLS], [SEP] line"), "\(message)")
    }

    @Test func aFolderOrNonUTF8FileIsAClearError() throws {
        #expect(try Self.message(loading: Fixtures.temporaryDirectory()).contains("folder"))
        #expect(try Self.message(loading: Self.write([0x5B, 0xFF, 0xFE, 0x5D, 0x0A])).contains("UTF-8"))
    }

    @Test func oversizedFilesAreRefused() throws {
        let tooBig = Self.write([UInt8](repeating: 0x61, count: 8 << 20 + 1))
        #expect(try Self.message(loading: tooBig).contains("8 MB"))
        let tooManyLines = Self.write([UInt8](repeating: 0x0A, count: 1_000_001))
        #expect(try Self.message(loading: tooManyLines).contains("1,000,000"))
    }
}
