// Python twin: transformers.AutoTokenizer for all-MiniLM-L6-v2 (expected ids in Fixtures/tokens.json).
import XCTest
@testable import MobileVidCore

final class WordPieceTokenizerTests: XCTestCase {
    func makeTokenizer(maxLength: Int = 32) throws -> WordPieceTokenizer {
        try WordPieceTokenizer(vocabularyFile: Fixtures.folder.appendingPathComponent("vocab.txt"), maxLength: maxLength)
    }

    func testTrickyPromptsMatchHuggingFace() throws {
        let fixture = try XCTUnwrap(Fixtures.json("tokens.json") as? [String: Any])
        let tokenizer = try makeTokenizer(maxLength: fixture["max_length"] as! Int)
        let cases = fixture["cases"] as! [[String: Any]]
        XCTAssertGreaterThan(cases.count, 10)
        for item in cases {
            let prompt = item["prompt"] as! String
            let encoding = tokenizer.encode(prompt)
            XCTAssertEqual(encoding.ids.map(Int.init), item["input_ids"] as! [Int], "ids of \(prompt.debugDescription)")
            XCTAssertEqual(encoding.attentionMask.map(Int.init), item["attention_mask"] as! [Int],
                           "mask of \(prompt.debugDescription)")
        }
    }

    func testPiecesAndSpecialTokens() throws {
        let tokenizer = try makeTokenizer()
        XCTAssertEqual(tokenizer.tokenize("Playing"), ["playing"])
        XCTAssertEqual(tokenizer.tokenize("unaffable"), ["una", "##ffa", "##ble"])
        XCTAssertEqual(tokenizer.tokenize("a [MASK]"), ["a", "[MASK]"])
        XCTAssertEqual(tokenizer.tokenize("x" + String(repeating: "a", count: 100)), ["[UNK]"])
        XCTAssertEqual(tokenizer.encode("").ids.prefix(3), [tokenizer.clsId, tokenizer.sepId, tokenizer.padId])
    }

    func testTruncationKeepsSepLast() throws {
        let tokenizer = try makeTokenizer(maxLength: 8)
        let encoding = tokenizer.encode(String(repeating: "dog ", count: 20))
        XCTAssertEqual(encoding.ids.count, 8)
        XCTAssertEqual(encoding.ids.first, tokenizer.clsId)
        XCTAssertEqual(encoding.ids.last, tokenizer.sepId)
        XCTAssertEqual(encoding.attentionMask, [Int32](repeating: 1, count: 8))
    }

    /// A Hangul syllable must not match its decomposed jamo (Swift's String == is canonical equivalence).
    func testVocabularyLookupIsByteExact() throws {
        let tokenizer = try WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "\u{C548}"], maxLength: 8)
        XCTAssertEqual(tokenizer.pieceIds("\u{C548}"), [1])  // NFD splits it into jamo, which the vocabulary lacks
    }

    func testMissingVocabularyIsAOneLineError() {
        XCTAssertThrowsError(try WordPieceTokenizer(vocabularyFile: URL(fileURLWithPath: "/nonexistent/vocab.txt"),
                                                    maxLength: 8)) { error in
            XCTAssertFalse("\(error)".contains("\n"))
            XCTAssertTrue("\(error)".contains("vocab.txt"))
        }
    }
}
