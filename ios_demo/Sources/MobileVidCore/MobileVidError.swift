// Python twin: mobilevid/errors.py (MobilevidError): every user-facing failure is one line.
import Foundation

/// A failure a person can act on, described in one line (the CLI prints it and exits 1).
public enum MobileVidError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The manifest's schema or schema version is not one this code reads.
    case unsupportedSchema(path: String, schema: String?, version: Int?, expected: String)
    /// A file the manifest lists (or the manifest itself) does not exist.
    case missingFile(path: String, what: String)
    /// A tensor's shape disagrees with what the manifest (or the sampler) needs.
    case wrongShape(what: String, expected: [Int], got: [Int])
    /// A manifest or golden index that is not valid JSON of the expected form.
    case invalidFile(path: String, reason: String)
    /// A bad command-line argument or API argument.
    case invalidArgument(String)
    /// A value that should be finite is not (NaN or infinity), e.g. a model's output.
    case notFinite(String)
    /// The bundle needs more memory than the device can give.
    case doesNotFit(String)
    /// Generation was cancelled by the caller.
    case cancelled

    public var description: String {
        switch self {
        case let .unsupportedSchema(path, schema, version, expected):
            let found = "\(schema.map { "'\($0)'" } ?? "none") version \(version.map(String.init) ?? "none")"
            return "\(path): unsupported schema \(found) (this mobilevid-swift reads \(expected))"
        case let .missingFile(path, what):
            return "\(what) is missing: \(path)"
        case let .wrongShape(what, expected, got):
            return "\(what) has shape \(got), expected \(expected)"
        case let .invalidFile(path, reason):
            return "\(path): \(reason)"
        case let .invalidArgument(message), let .notFinite(message), let .doesNotFit(message):
            return message
        case .cancelled:
            return "cancelled"
        }
    }

    public var errorDescription: String? { description }
}
