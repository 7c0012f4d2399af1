// Python twin: mobilevid/cli/main.py. The Swift command-line tool: what the app does, runnable on Linux.
import Foundation
import MobileVidCore

let commands: [(name: String, summary: String, usage: String, run: ([String]) throws -> Void)] = [
    ("tokenize", "token ids and attention mask of prompts (WordPiece)", TokenizeCommand.usage, TokenizeCommand.run),
    ("randn", "torch.randn-compatible noise for a seed and shape", RandnCommand.usage, RandnCommand.run),
    ("manifest", "check a bundle's manifest.json and print what it states", ManifestCommand.usage, ManifestCommand.run),
    ("replay", "run the Swift sampler on a bundle's golden vectors, compare with Python", ReplayCommand.usage,
     ReplayCommand.run),
] + GenerateCommand.entries

func help() -> String {
    var lines = ["usage: mobilevid-swift COMMAND [options]", "",
                 "The Swift side of mobilevid: what the iPhone app runs, checked against Python.", "", "commands:"]
    for command in commands { lines.append("  \(command.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(command.summary)") }
    lines += ["", "'mobilevid-swift COMMAND --help' explains a command. Exit codes: 0 success, 1 an error in the input "
              + "(one line), 2 a usage error."]
    return lines.joined(separator: "\n")
}

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
    exit(code)
}

let argv = Array(CommandLine.arguments.dropFirst())
guard let name = argv.first, name != "--help", name != "-h" else {
    print(help())
    exit(argv.isEmpty ? 2 : 0)
}
guard let command = commands.first(where: { $0.name == name }) else {
    fail("mobilevid-swift: error: unknown command '\(name)' (see 'mobilevid-swift --help')", code: 2)
}
let rest = Array(argv.dropFirst())
if rest.contains("--help") || rest.contains("-h") {
    print(command.usage)
    exit(0)
}
do {
    try command.run(rest)
} catch let error as UsageError {
    fail("mobilevid-swift \(name): error: \(error) (see 'mobilevid-swift \(name) --help')", code: 2)
} catch let error as MobileVidError {
    fail("mobilevid-swift \(name): error: \(error)", code: 1)
} catch {
    fail("mobilevid-swift \(name): error: \(error.localizedDescription)", code: 1)
}
