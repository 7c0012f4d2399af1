// Python twin: mobilevid/export/golden.py (writes a bundle's golden/ folder: index.json + raw little-endian
// tensors). Read here, and replayed through the Swift sampler by GoldenReplay.
import Foundation

/// A bundle's `golden/` folder: what Python computed on one real run of the bundle, to check Swift against.
public struct GoldenVectors {
    public static let schemaName = "mobilevid.golden"
    public static let schemaVersion = 1
    public static let indexName = "index.json"

    public struct TensorEntry: Codable, Sendable {
        public var file: String
        public var dtype: String
        public var shape: [Int]
    }

    public struct TokenCase: Codable, Sendable {
        public var prompt: String
        public var inputIds: String
        public var attentionMask: String
    }

    public struct NoiseCase: Codable, Sendable {
        public var seed: UInt64
        public var shapes: [[Int]]
        public var tensor: String
    }

    public struct TextEntry: Codable, Sendable {
        public var prompt: String
        public var inputIds: String
        public var attentionMask: String
        public var textStates: String
        public var pooledText: String
    }

    public struct StepEntry: Codable, Sendable {
        public var index: Int
        public var timestep: Float
        public var sample: String
        public var velocityCond: String
        public var velocityUncond: String?
        public var output: String
    }

    public struct Run: Codable, Sendable {
        public var prompt: String
        public var seed: UInt64
        public var sampler: SamplerType
        public var sigmas: [Float]
        public var guidanceScale: Float
        public var text: TextEntry
        public var nullText: TextEntry?
        public var initialNoise: String
        public var steps: [StepEntry]
        public var finalLatents: String
        public var decoded: String
        public var frames: String
    }

    public struct Index: Codable, Sendable {
        public var schema: String
        public var schemaVersion: Int
        public var createdBy: String
        public var torch: String
        public var torchCpuCapability: String
        public var randnKernel: String
        public var tensors: [String: TensorEntry]
        public var tokens: [TokenCase]
        public var noise: [NoiseCase]
        public var run: Run
    }

    public let folder: URL
    public let index: Index

    public init(folder: URL) throws {
        let url = folder.appendingPathComponent(Self.indexName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw MobileVidError.missingFile(path: url.path, what: "golden vectors index")
        }
        guard let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw MobileVidError.invalidFile(path: url.path, reason: "not a JSON object")
        }
        let schema = top["schema"] as? String, version = top["schema_version"] as? Int
        guard schema == Self.schemaName, version == Self.schemaVersion else {
            throw MobileVidError.unsupportedSchema(path: url.path, schema: schema, version: version,
                                                   expected: "\(Self.schemaName) v\(Self.schemaVersion)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            index = try decoder.decode(Index.self, from: data)
        } catch let error as DecodingError {
            throw MobileVidError.invalidFile(path: url.path, reason: BundleManifest.describe(error)
                .replacingOccurrences(of: "manifest", with: "golden index"))
        }
        self.folder = folder
    }

    /// The randn kernel of the torch that wrote these vectors.
    public var kernel: TorchRandomSource.Kernel {
        TorchRandomSource.Kernel(rawValue: index.randnKernel) ?? TorchRandomSource.Kernel(cpuCapability: index.torchCpuCapability)
    }

    private func raw(_ name: String, dtype: String) throws -> (TensorEntry, Data) {
        guard let entry = index.tensors[name] else {
            throw MobileVidError.invalidFile(path: folder.appendingPathComponent(Self.indexName).path,
                                             reason: "no tensor named '\(name)'")
        }
        guard entry.dtype == dtype else {
            throw MobileVidError.invalidFile(path: entry.file, reason: "tensor '\(name)' is \(entry.dtype), expected \(dtype)")
        }
        let url = folder.appendingPathComponent(entry.file)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw MobileVidError.missingFile(path: url.path, what: "golden tensor '\(name)'")
        }
        let size = dtype == "uint8" ? 1 : 4
        guard data.count == entry.shape.reduce(1, *) * size else {
            throw MobileVidError.invalidFile(path: url.path, reason: "\(data.count) bytes do not hold shape \(entry.shape) of \(dtype)")
        }
        return (entry, data)
    }

    public func float32(_ name: String) throws -> Tensor {
        let (entry, data) = try raw(name, dtype: "float32")
        let values = data.withUnsafeBytes { buffer in
            (0..<(data.count / 4)).map { i in
                Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
        }
        return Tensor(shape: entry.shape, scalars: values)
    }

    public func int32(_ name: String) throws -> [Int32] {
        let (_, data) = try raw(name, dtype: "int32")
        return data.withUnsafeBytes { buffer in
            (0..<(data.count / 4)).map { i in Int32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        }
    }

    public func uint8(_ name: String) throws -> (shape: [Int], values: [UInt8]) {
        let (entry, data) = try raw(name, dtype: "uint8")
        return (entry.shape, [UInt8](data))
    }
}
