// Python twin: mobilevid/cli/main.py (OneLineParser): one-line usage errors, exit 2; user errors exit 1.
// Written by hand because the package takes no dependency beyond the toolchain (no swift-argument-parser).
import Foundation
import MobileVidCore

/// A usage error: printed as one line, exit code 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// `--name value` options, `--flag` switches and positional arguments, in any order.
struct Arguments {
    private(set) var options: [String: [String]] = [:]
    private(set) var flags: Set<String> = []
    private(set) var positional: [String] = []

    /// - Parameters:
    ///   - valued: option names that take a value (`-o` and `--output` are spelled out separately).
    ///   - switches: option names that take none.
    init(_ arguments: [String], valued: Set<String>, switches: Set<String>) throws {
        var i = 0
        var onlyPositional = false
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            if onlyPositional || !argument.hasPrefix("-") || argument == "-" {
                positional.append(argument)
            } else if argument == "--" {
                onlyPositional = true
            } else if switches.contains(argument) {
                flags.insert(argument)
            } else if valued.contains(argument) {
                guard i < arguments.count else { throw UsageError("\(argument) needs a value") }
                options[argument, default: []].append(arguments[i])
                i += 1
            } else {
                throw UsageError("unknown option \(argument)")
            }
        }
    }

    func value(_ name: String) -> String? { options[name]?.last }
    func values(_ name: String) -> [String] { options[name] ?? [] }
    func has(_ flag: String) -> Bool { flags.contains(flag) }

    func int(_ name: String) throws -> Int? {
        guard let text = value(name) else { return nil }
        guard let number = Int(text) else { throw UsageError("\(name) must be an integer, got '\(text)'") }
        return number
    }
}

/// A seed as Python's `manual_seed` takes it: 0 ... 2^63 - 1.
func parseSeed(_ text: String) throws -> UInt64 {
    guard let seed = UInt64(text) else {
        throw UsageError("a seed must be an integer in [0, \(Sampling.seedMax)], got '\(text)'")
    }
    return try Sampling.checkSeed(seed)
}

/// "16,4,16,16" -> [16, 4, 16, 16].
func parseShape(_ text: String) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! >= 0 }) else {
        throw UsageError("a shape is comma-separated sizes such as 16,4,16,16, got '\(text)'")
    }
    return parts.map { $0! }
}

func writeJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write("\n".data(using: .utf8)!)
}

/// Raw little-endian float32, the golden vectors' format.
func writeFloat32(_ values: [Float], to url: URL) throws {
    var data = Data(capacity: values.count * 4)
    for value in values {
        var bits = value.bitPattern.littleEndian
        withUnsafeBytes(of: &bits) { data.append(contentsOf: $0) }
    }
    try data.write(to: url, options: .atomic)
}
