// Python twin: transformers.AutoTokenizer on the bundle's tokenizer/ folder (all-MiniLM-L6-v2's
// BertTokenizerFast: Hugging Face tokenizers' BertNormalizer, BertPreTokenizer, WordPiece model and
// [CLS] A [SEP] template), called as mobilevid/models/text_encoder.py calls it: padding="max_length",
// truncation=True, max_length from the manifest.
import Foundation

/// MiniLM's WordPiece tokenizer, reading the bundle's `vocab.txt` (Devlin et al. 2019, BERT).
///
/// Steps, as Hugging Face tokenizers runs them:
/// 1. special tokens typed in the text (`[MASK]`, ...) are matched first, verbatim, and never normalized;
/// 2. BERT normalization: control and format characters dropped, whitespace turned into spaces, spaces put
///    around CJK ideographs, accents stripped (NFD, then nonspacing marks removed), lower case;
/// 3. pre-tokenization: split on whitespace, each punctuation character its own word;
/// 4. greedy longest-match WordPiece with `##` continuations; a word that cannot be split, or longer than
///    100 characters, becomes `[UNK]`;
/// 5. `[CLS] pieces [SEP]`, truncated to `maxLength` (the pieces keep their first `maxLength - 2`), padded
///    with `[PAD]`, and an attention mask of ones over the real tokens.
///
/// Characters are Unicode scalars throughout (Rust `char`s), never Swift grapheme clusters.
public struct WordPieceTokenizer: Sendable {
    /// Token -> id, keyed by UTF-8 bytes: Swift's `String` equality is canonical equivalence, but the
    /// vocabulary lookup must be byte-exact (a Hangul syllable must not match its decomposed jamo).
    let vocabulary: [[UInt8]: Int32]
    /// Id -> token, for `tokenize`.
    let tokens: [String]
    public let maxLength: Int
    public let lowercase: Bool
    public let stripAccents: Bool
    public let clsId: Int32
    public let sepId: Int32
    public let padId: Int32
    public let unkId: Int32
    public let maxInputCharsPerWord = 100
    /// Special tokens matched verbatim in the input before normalization (tokenizers' added tokens).
    public let specialTokens: [String]

    public struct Encoding: Equatable, Sendable {
        public var ids: [Int32]
        public var attentionMask: [Int32]
    }

    /// - Parameter tokens: the vocabulary in id order (line `i` of `vocab.txt` is id `i`).
    public init(tokens: [String], maxLength: Int, lowercase: Bool = true, stripAccents: Bool? = nil,
                specialTokens: [String] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]) throws {
        var vocabulary = [[UInt8]: Int32]()
        for (i, token) in tokens.enumerated() {
            vocabulary[Array(token.utf8)] = Int32(i)  // a repeated token keeps its last id, as tokenizers does
        }
        guard maxLength >= 2 else {
            throw MobileVidError.invalidArgument("tokenizer max_length must be at least 2, got \(maxLength)")
        }
        func id(_ token: String) throws -> Int32 {
            guard let value = vocabulary[Array(token.utf8)] else {
                throw MobileVidError.invalidArgument("the vocabulary has no \(token) token")
            }
            return value
        }
        self.vocabulary = vocabulary
        self.tokens = tokens
        self.maxLength = maxLength
        self.lowercase = lowercase
        self.stripAccents = stripAccents ?? lowercase  // BertNormalizer: strip_accents None follows lowercase
        clsId = try id("[CLS]")
        sepId = try id("[SEP]")
        padId = try id("[PAD]")
        unkId = try id("[UNK]")
        // Longest first, so that a special token containing another is matched whole.
        self.specialTokens = specialTokens.filter { vocabulary[Array($0.utf8)] != nil }.sorted { $0.count > $1.count }
    }

    /// Reads `vocab.txt` (one token per line, UTF-8).
    public init(vocabularyFile: URL, maxLength: Int, lowercase: Bool = true, stripAccents: Bool? = nil) throws {
        guard FileManager.default.fileExists(atPath: vocabularyFile.path) else {
            throw MobileVidError.missingFile(path: vocabularyFile.path, what: "tokenizer vocabulary")
        }
        let text: String
        do {
            text = try String(contentsOf: vocabularyFile, encoding: .utf8)
        } catch {
            throw MobileVidError.invalidFile(path: vocabularyFile.path, reason: "not a UTF-8 text file")
        }
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        try self.init(tokens: lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 },
                      maxLength: maxLength, lowercase: lowercase, stripAccents: stripAccents)
    }

    /// Token ids and attention mask of one prompt, `maxLength` long.
    public func encode(_ text: String) -> Encoding {
        let pieces = Array(pieceIds(text).prefix(maxLength - 2))
        var ids = [clsId] + pieces + [sepId]
        let real = ids.count
        ids += [Int32](repeating: padId, count: maxLength - real)
        let mask = [Int32](repeating: 1, count: real) + [Int32](repeating: 0, count: maxLength - real)
        return Encoding(ids: ids, attentionMask: mask)
    }

    /// The WordPiece ids of `text`, without [CLS]/[SEP], truncation or padding.
    public func pieceIds(_ text: String) -> [Int32] {
        var ids = [Int32]()
        for segment in splitSpecialTokens(text) {
            switch segment {
            case let .special(token):
                ids.append(vocabulary[Array(token.utf8)]!)
            case let .text(chunk):
                for word in preTokenize(normalize(chunk)) {
                    ids += wordPiece(word)
                }
            }
        }
        return ids
    }

    /// The WordPiece strings of `text` (for display and debugging).
    public func tokenize(_ text: String) -> [String] {
        pieceIds(text).map { tokens[Int($0)] }
    }

    // MARK: - 1. Special tokens

    enum Segment: Equatable {
        case special(String)
        case text([Unicode.Scalar])
    }

    func splitSpecialTokens(_ text: String) -> [Segment] {
        let scalars = Array(text.unicodeScalars)
        let patterns = specialTokens.map { Array($0.unicodeScalars) }
        var segments = [Segment]()
        var current = [Unicode.Scalar]()
        var i = 0
        outer: while i < scalars.count {
            for (k, pattern) in patterns.enumerated()
            where i + pattern.count <= scalars.count && Array(scalars[i..<(i + pattern.count)]) == pattern {
                if !current.isEmpty { segments.append(.text(current)) }
                current = []
                segments.append(.special(specialTokens[k]))
                i += pattern.count
                continue outer
            }
            current.append(scalars[i])
            i += 1
        }
        if !current.isEmpty { segments.append(.text(current)) }
        return segments
    }

    // MARK: - 2. BertNormalizer

    func normalize(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var cleaned = [Unicode.Scalar]()
        for c in input {
            if c.value == 0 || c.value == 0xFFFD || Self.isControl(c) { continue }
            if Self.isWhitespace(c) {
                cleaned.append(" ")
            } else if Self.isChineseCharacter(c) {
                cleaned += [" ", c, " "]
            } else {
                cleaned.append(c)
            }
        }
        if stripAccents {
            var string = String.UnicodeScalarView()
            string.append(contentsOf: cleaned)
            let decomposed = String(string).decomposedStringWithCanonicalMapping
            cleaned = decomposed.unicodeScalars.filter { Self.category($0) != .nonspacingMark }
        }
        if lowercase {
            cleaned = cleaned.flatMap { Array($0.properties.lowercaseMapping.unicodeScalars) }
        }
        return cleaned
    }

    /// The general category as tokenizers sees it: its category tables (the unicode_categories crate) are those
    /// of Unicode 8.0, so a character assigned later is unassigned there (not punctuation, not a mark, kept).
    /// Found by comparing with tokenizers: U+2E3C (Unicode 7.0, Po) splits a word, U+2E43 (9.0, Po) does not.
    static func category(_ c: Unicode.Scalar) -> Unicode.GeneralCategory {
        guard let age = c.properties.age, age.major < 8 || (age.major == 8 && age.minor == 0) else { return .unassigned }
        return c.properties.generalCategory
    }

    /// Tab, newline and carriage return count as whitespace, then Unicode's White_Space property.
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        c == "\t" || c == "\n" || c == "\r" || c.properties.isWhitespace
    }

    /// Control, format, surrogate and private-use characters (Cc, Cf, Cs, Co), except the three whitespace
    /// controls. Unassigned code points (Cn) are kept, as tokenizers keeps them (checked against it).
    static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c == "\t" || c == "\n" || c == "\r" { return false }
        switch category(c) {
        case .control, .format, .surrogate, .privateUse: return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT splits character by character.
    static func isChineseCharacter(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    // MARK: - 3. BertPreTokenizer

    func preTokenize(_ text: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words = [[Unicode.Scalar]]()
        var current = [Unicode.Scalar]()
        for c in text {
            if c.properties.isWhitespace {
                if !current.isEmpty { words.append(current) }
                current = []
            } else if Self.isPunctuation(c) {
                if !current.isEmpty { words.append(current) }
                current = []
                words.append([c])
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// ASCII punctuation (which includes symbols such as `$`, `+`, `<`, `^`, `|`, `~`) or Unicode P*.
    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 33...47, 58...64, 91...96, 123...126: return true
        default: break
        }
        switch category(c) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    // MARK: - 4. WordPiece

    func wordPiece(_ word: [Unicode.Scalar]) -> [Int32] {
        if word.count > maxInputCharsPerWord { return [unkId] }
        var pieces = [Int32]()
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                var candidate: [UInt8] = start > 0 ? [0x23, 0x23] : []  // "##"
                for c in word[start..<end] { UTF8.encode(c) { candidate.append($0) } }
                if let id = vocabulary[candidate] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else { return [unkId] }
            pieces.append(id)
            start = end
        }
        return pieces
    }
}
