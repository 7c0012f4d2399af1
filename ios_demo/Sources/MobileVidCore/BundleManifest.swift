// Python twin: mobilevid/export/manifest.py (schema mobilevid.bundle v2) and its JSON Schema
// mobilevid/export/manifest.schema.json: the same fields, the same strictness (an unknown key, a missing key
// or a wrong type is an error), the same contract checks, then the files it lists.
import Foundation

/// A bundle's `manifest.json`, checked as `read_manifest` checks it.
public struct BundleManifest: Codable, Equatable, Sendable {
    public static let schemaName = "mobilevid.bundle"
    public static let schemaVersion = 2
    public static let fileName = "manifest.json"
    public static let requiredComponents = ["text_encoder", "denoiser", "vae_decoder"]

    public struct TensorSpec: Codable, Equatable, Sendable {
        public var name: String
        public var shape: [Int]
        public var dtype: DType
    }

    public enum DType: String, Codable, Sendable { case float32, float16, int32, int64 }

    public struct ComponentSpec: Codable, Equatable, Sendable {
        public var files: [String]
        public var inputs: [TensorSpec]
        public var outputs: [TensorSpec]
        public var quantize: String
    }

    public struct VideoSpec: Codable, Equatable, Sendable {
        public var frames: Int
        public var fps: Double
        public var height: Int
        public var width: Int
    }

    public struct LatentSpec: Codable, Equatable, Sendable {
        public var channels: Int
        public var height: Int
        public var width: Int
        public var scalingFactor: Double
        public var shiftFactor: Double?
    }

    public struct TokenizerSpec: Codable, Equatable, Sendable {
        public var type: String
        public var files: [String]
        public var maxLength: Int
        public var lowercase: Bool
        public var stripAccents: Bool
        public var padId: Int
        public var clsId: Int
        public var sepId: Int
        public var unkId: Int
        public var nullPrompt: String
    }

    public struct SamplerSpec: Codable, Equatable, Sendable {
        public var type: SamplerType
        public var steps: Int
        public var sigmas: [Double]
        public var timesteps: [Double]
        public var guidanceScale: Double
        public var callsPerStep: Int
        public var update: String
        public var guidance: String
    }

    public struct NoiseSpec: Codable, Equatable, Sendable {
        public var generator: String
        public var distribution: String
        public var dtype: String
        public var shape: [Int]
        public var seedRule: String
        public var order: String
    }

    public struct PixelSpec: Codable, Equatable, Sendable {
        public var decoderOutputRange: [Double]
        public var toUnit: String
        public var toUint8: String
        public var layout: String
    }

    public struct SourceModel: Codable, Equatable, Sendable {
        public var path: String?
        public var sha256: String?
        public var preset: String
    }

    public struct Provenance: Codable, Equatable, Sendable {
        public var createdBy: String
        public var torch: String
        public var sourceModel: SourceModel
    }

    public struct ComponentDiagnostics: Codable, Equatable, Sendable {
        public var bytes: Int
        public var exportSeconds: Double
        public var parity: JSONValue
        public var delegation: JSONValue?
        public var spec: JSONValue?
    }

    public struct Diagnostics: Codable, Equatable, Sendable {
        public var exportSeconds: Double
        public var components: [String: ComponentDiagnostics]?
    }

    public var schema: String
    public var schemaVersion: Int
    public var target: String
    public var delegate: String?
    public var quantize: String
    public var video: VideoSpec
    public var latent: LatentSpec
    public var tokenizer: TokenizerSpec
    public var sampler: SamplerSpec
    public var noise: NoiseSpec
    public var pixels: PixelSpec
    public var components: [String: ComponentSpec]
    public var provenance: Provenance
    public var diagnostics: Diagnostics

    /// The folder the manifest was read from (not part of the JSON).
    public var bundle: URL?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case schema, schemaVersion, target, delegate, quantize, video, latent, tokenizer, sampler, noise, pixels
        case components, provenance, diagnostics
    }

    // MARK: - Reading

    /// Reads and checks `bundle/manifest.json`: schema version first, then every key and type, then the
    /// contract (shapes and levels), then that every listed file exists inside the bundle.
    public static func load(bundle: URL) throws -> BundleManifest {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: bundle.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw MobileVidError.missingFile(path: bundle.path, what: "bundle folder")
        }
        let url = bundle.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw MobileVidError.missingFile(path: url.path, what: "\(bundle.path) is not an export bundle: \(fileName)")
        }
        var manifest = try parse(data, where: url.path)
        manifest.bundle = bundle
        try manifest.checkFiles(in: bundle)
        return manifest
    }

    /// A manifest from its JSON bytes (no file checks).
    public static func parse(_ data: Data, where path: String = fileName) throws -> BundleManifest {
        guard let object = try? JSONSerialization.jsonObject(with: data), let top = object as? [String: Any] else {
            throw MobileVidError.invalidFile(path: path, reason: "not a JSON object")
        }
        let schema = top["schema"] as? String
        let version = (top["schema_version"] as? NSNumber).flatMap { Int(exactly: $0.doubleValue) }
        guard schema == schemaName, version == schemaVersion, !(top["schema_version"] is Bool) else {
            throw MobileVidError.unsupportedSchema(path: path, schema: schema, version: version,
                                                   expected: "\(schemaName) v\(schemaVersion)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let manifest: BundleManifest
        do {
            manifest = try decoder.decode(BundleManifest.self, from: data)
        } catch let error as DecodingError {
            throw MobileVidError.invalidFile(path: path, reason: describe(error))
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        if let again = try? JSONSerialization.jsonObject(with: encoder.encode(manifest)),
           let key = firstUnknownKey(top, again) {
            throw MobileVidError.invalidFile(path: path, reason: "unknown manifest key \(key)")
        }
        try manifest.checkContract(where: path)
        return manifest
    }

    // MARK: - The contract (what a schema cannot state)

    /// `_check_contract`, plus the shapes the Swift generator relies on (outputs as well as inputs).
    public func checkContract(where path: String = fileName) throws {
        let s = sampler
        guard s.steps >= 1, s.sigmas.count == s.steps + 1, s.timesteps.count == s.steps else {
            throw MobileVidError.invalidFile(path: path, reason: "sampler.sigmas must hold steps + 1 = \(s.steps + 1) "
                                             + "levels and sampler.timesteps \(s.steps)")
        }
        guard zip(s.sigmas, s.sigmas.dropFirst()).allSatisfy({ $1 < $0 }), s.sigmas.last == 0 else {
            throw MobileVidError.invalidFile(path: path, reason: "sampler.sigmas must decrease to 0, got \(s.sigmas)")
        }
        let guidance = try Sampling.checkGuidance(s.guidanceScale)
        guard s.callsPerStep == Sampling.callsPerStep(guidance: guidance) else {
            throw MobileVidError.invalidFile(path: path, reason: "sampler.calls_per_step \(s.callsPerStep) does not "
                                             + "match guidance_scale \(s.guidanceScale)")
        }
        let latentShape = [video.frames, latent.channels, latent.height, latent.width]
        if noise.shape != latentShape {
            throw MobileVidError.wrongShape(what: "\(path): noise.shape", expected: latentShape, got: noise.shape)
        }
        let unknown = components.keys.filter { !Self.requiredComponents.contains($0) }.sorted()
        guard unknown.isEmpty, !components.isEmpty else {
            throw MobileVidError.invalidFile(path: path, reason: "unknown component(s) \(unknown.isEmpty ? "(none)" : unknown.joined(separator: ", ")); "
                                             + "valid: \(Self.requiredComponents.joined(separator: ", "))")
        }
        let length = tokenizer.maxLength
        if let encoder = components["text_encoder"] {
            try expect(encoder, "text_encoder", inputs: [[1, length], [1, length]], outputsRank: [3, 2], path: path)
        }
        if let denoiser = components["denoiser"] {
            try expect(denoiser, "denoiser", inputs: [[1] + latentShape, [1]], outputsRank: [5], path: path)
            if denoiser.outputs[0].shape != [1] + latentShape {
                throw MobileVidError.wrongShape(what: "\(path): the denoiser's \(denoiser.outputs[0].name) output",
                                                expected: [1] + latentShape, got: denoiser.outputs[0].shape)
            }
            if denoiser.inputs.count >= 5, denoiser.inputs[3].shape != [1, length] {
                throw MobileVidError.wrongShape(what: "\(path): the denoiser's \(denoiser.inputs[3].name) input",
                                                expected: [1, length], got: denoiser.inputs[3].shape)
            }
        }
        if let decoder = components["vae_decoder"] {
            try expect(decoder, "vae_decoder", inputs: [[1] + latentShape], outputsRank: [5], path: path)
            let frames = [1, video.frames, 3, video.height, video.width]
            if decoder.outputs[0].shape != frames {
                throw MobileVidError.wrongShape(what: "\(path): the vae_decoder's \(decoder.outputs[0].name) output",
                                                expected: frames, got: decoder.outputs[0].shape)
            }
        }
    }

    private func expect(_ component: ComponentSpec, _ name: String, inputs: [[Int]], outputsRank: [Int],
                        path: String) throws {
        guard component.inputs.count >= inputs.count, component.outputs.count >= outputsRank.count else {
            throw MobileVidError.invalidFile(path: path, reason: "\(name) needs \(inputs.count) input(s) and "
                                             + "\(outputsRank.count) output(s)")
        }
        for (spec, expected) in zip(component.inputs, inputs) where spec.shape != expected {
            throw MobileVidError.wrongShape(what: "\(path): the \(name)'s \(spec.name) input", expected: expected,
                                            got: spec.shape)
        }
        for (spec, rank) in zip(component.outputs, outputsRank) where spec.shape.count != rank || spec.shape.first != 1 {
            throw MobileVidError.invalidFile(path: path, reason: "the \(name)'s \(spec.name) output has shape "
                                             + "\(spec.shape), expected \(rank) dimensions, batch 1")
        }
    }

    /// Every component and tokenizer file exists, inside the bundle.
    public func checkFiles(in bundle: URL) throws {
        let entries = components.sorted { $0.key < $1.key }.flatMap { name, spec in spec.files.map { (name, $0) } }
            + tokenizer.files.map { ("tokenizer", $0) }
        for (name, file) in entries {
            let url = try resolve(file, in: bundle)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw MobileVidError.missingFile(path: url.path, what: "bundle \(bundle.path) is incomplete: \(name) file \(file)")
            }
        }
    }

    /// A file named by the manifest, inside the bundle; an absolute path or one leaving the bundle is refused.
    public func resolve(_ file: String, in bundle: URL? = nil) throws -> URL {
        guard let base = bundle ?? self.bundle else {
            throw MobileVidError.invalidArgument("the manifest was not read from a bundle folder")
        }
        let root = base.standardizedFileURL.resolvingSymlinksInPath().path
        let url = base.appendingPathComponent(file).standardizedFileURL.resolvingSymlinksInPath()
        guard !file.hasPrefix("/"), url.path == root || url.path.hasPrefix(root + "/") else {
            throw MobileVidError.invalidFile(path: base.appendingPathComponent(Self.fileName).path,
                                             reason: "file entry '\(file)' points outside the bundle")
        }
        return url
    }

    // MARK: - What the generator needs

    /// The sampler's levels as the float32 values the Python sampler uses.
    public var sigmas: [Float] { sampler.sigmas.map { Float($0) } }

    /// The denoiser's sample input shape, batch included: (1, F, C, h, w).
    public var latentShape: [Int] { [1] + noise.shape }

    /// The tokenizer the manifest describes, reading its `vocab.txt`.
    public func makeTokenizer() throws -> WordPieceTokenizer {
        guard tokenizer.type == "wordpiece" else {
            throw MobileVidError.invalidArgument("tokenizer type '\(tokenizer.type)' is not supported (wordpiece only)")
        }
        guard let vocab = tokenizer.files.first(where: { $0.hasSuffix("vocab.txt") }) else {
            throw MobileVidError.invalidArgument("the manifest's tokenizer lists no vocab.txt")
        }
        let url = try resolve(vocab)
        let made = try WordPieceTokenizer(vocabularyFile: url, maxLength: tokenizer.maxLength,
                                          lowercase: tokenizer.lowercase, stripAccents: tokenizer.stripAccents)
        let ids = [("pad_id", tokenizer.padId, made.padId), ("cls_id", tokenizer.clsId, made.clsId),
                   ("sep_id", tokenizer.sepId, made.sepId), ("unk_id", tokenizer.unkId, made.unkId)]
        for (key, stated, found) in ids where Int32(stated) != found {
            throw MobileVidError.invalidFile(path: url.path, reason: "tokenizer.\(key) is \(stated) in the manifest "
                                             + "but \(found) in the vocabulary")
        }
        return made
    }

    /// Bytes of every component file (what must fit in memory, at least).
    public var componentBytes: Int {
        diagnostics.components?.values.reduce(0) { $0 + $1.bytes } ?? 0
    }

    static func describe(_ error: DecodingError) -> String {
        func where_(_ path: [CodingKey]) -> String {
            path.isEmpty ? "the manifest" : path.map { key in key.intValue.map { "[\($0)]" } ?? snake(key.stringValue) }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case let .keyNotFound(key, context):
            return "manifest \(where_(context.codingPath + [key])) is missing"
        case let .typeMismatch(type, context):
            return "manifest \(where_(context.codingPath)) must be of type \(type)"
        case let .valueNotFound(type, context):
            return "manifest \(where_(context.codingPath)) must be of type \(type), not null"
        case let .dataCorrupted(context):
            return "manifest \(where_(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "manifest: \(error)"
        }
    }

    /// camelCase -> snake_case, to name keys as the JSON spells them.
    static func snake(_ name: String) -> String {
        var out = ""
        for c in name {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }
}

// MARK: - Strict keys

/// The first key of `original` that the decoded manifest does not hold (the JSON Schema's
/// `additionalProperties: false`): decoding keeps only declared keys, so encoding the result again and
/// comparing key sets finds the undeclared ones. A declared optional key set to null is not re-encoded,
/// so null values are not reported.
func firstUnknownKey(_ original: Any, _ known: Any, path: String = "") -> String? {
    if let object = original as? [String: Any] {
        let other = known as? [String: Any] ?? [:]
        for key in object.keys.sorted() {
            let here = path.isEmpty ? key : "\(path).\(key)"
            guard let value = other[key] else {
                if object[key] is NSNull { continue }
                return here
            }
            if let found = firstUnknownKey(object[key]!, value, path: here) { return found }
        }
    } else if let list = original as? [Any], let other = known as? [Any] {
        for (i, (a, b)) in zip(list, other).enumerated() {
            if let found = firstUnknownKey(a, b, path: "\(path)[\(i)]") { return found }
        }
    }
    return nil
}

/// A JSON value kept as it is (diagnostics the app shows but does not interpret).
public enum JSONValue: Codable, Equatable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case let .bool(value): try container.encode(value)
        case let .number(value): try container.encode(value)
        case let .string(value): try container.encode(value)
        case let .array(value): try container.encode(value)
        case let .object(value): try container.encode(value)
        }
    }
}
