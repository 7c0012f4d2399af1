// Python twin: the tokenization in mobilevid/export/bundle_runtime.py (BundlePipeline._encode).
import Foundation
import MobileVidCore

enum TokenizeCommand {
    static let usage = """
    usage: mobilevid-swift tokenize (--bundle DIR | --vocab FILE --max-length N) [--prompts-file FILE] [TEXT ...]

    Token ids and attention mask of each prompt, as the app feeds the text encoder, printed as one JSON list
    of {"text", "input_ids", "attention_mask", "tokens"}. --bundle reads the vocabulary, max_length and case
    rule from the bundle's manifest; --prompts-file reads a JSON list of strings (any text, control characters
    included), after the TEXT arguments.
    """

    static func run(_ argv: [String]) throws {
        let args = try Arguments(argv, valued: ["--bundle", "--vocab", "--max-length", "--prompts-file"], switches: [])
        let tokenizer: WordPieceTokenizer
        if let bundle = args.value("--bundle") {
            let manifest = try BundleManifest.load(bundle: URL(fileURLWithPath: bundle))
            tokenizer = try manifest.makeTokenizer()
        } else if let vocab = args.value("--vocab") {
            guard let maxLength = try args.int("--max-length") else { throw UsageError("--vocab needs --max-length") }
            tokenizer = try WordPieceTokenizer(vocabularyFile: URL(fileURLWithPath: vocab), maxLength: maxLength)
        } else {
            throw UsageError("give --bundle DIR or --vocab FILE --max-length N")
        }
        var prompts = args.positional
        if let file = args.value("--prompts-file") {
            let url = URL(fileURLWithPath: file)
            guard let data = try? Data(contentsOf: url) else {
                throw MobileVidError.missingFile(path: file, what: "prompts file")
            }
            guard let list = (try? JSONSerialization.jsonObject(with: data)) as? [String] else {
                throw MobileVidError.invalidFile(path: file, reason: "expected a JSON list of strings")
            }
            prompts += list
        }
        guard !prompts.isEmpty else { throw UsageError("no text to tokenize") }
        let rows: [[String: Any]] = prompts.map { text in
            let encoding = tokenizer.encode(text)
            return ["text": text, "input_ids": encoding.ids.map(Int.init),
                    "attention_mask": encoding.attentionMask.map(Int.init), "tokens": tokenizer.tokenize(text)]
        }
        try writeJSON(rows)
    }
}
