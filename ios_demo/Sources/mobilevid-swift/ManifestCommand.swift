// Python twin: mobilevid/export/manifest.py read_manifest.
import Foundation
import MobileVidCore

enum ManifestCommand {
    static let usage = """
    usage: mobilevid-swift manifest BUNDLE [--json]

    Checks BUNDLE/manifest.json as the app does (schema mobilevid.bundle v\(BundleManifest.schemaVersion): every key
    and type, the shapes and levels, every listed file inside the bundle) and prints what it states. A bad
    manifest is one line on stderr and exit code 1. --json prints the checked manifest as JSON.
    """

    static func run(_ argv: [String]) throws {
        let args = try Arguments(argv, valued: [], switches: ["--json"])
        guard args.positional.count == 1 else { throw UsageError("give one bundle folder") }
        let manifest = try BundleManifest.load(bundle: URL(fileURLWithPath: args.positional[0]))
        if args.has("--json") {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            FileHandle.standardOutput.write(try encoder.encode(manifest))
            print()
            return
        }
        let s = manifest.sampler
        print("bundle \(args.positional[0]): \(manifest.target)\(manifest.delegate.map { " (\($0))" } ?? ""), "
              + "quantize \(manifest.quantize), made by \(manifest.provenance.createdBy)")
        print("video: \(manifest.video.frames) frames of \(manifest.video.width)x\(manifest.video.height) at \(manifest.video.fps) fps")
        print("sampler: \(s.type.rawValue), \(s.steps) steps, guidance \(s.guidanceScale) (\(s.callsPerStep) denoiser call(s) per step)")
        print("sigmas: \(manifest.sigmas.map { String($0) }.joined(separator: ", "))")
        print("noise: \(manifest.noise.distribution) \(manifest.noise.dtype) \(manifest.noise.shape), seed rule \(manifest.noise.seedRule)")
        print("tokenizer: \(manifest.tokenizer.type), max_length \(manifest.tokenizer.maxLength)")
        for name in BundleManifest.requiredComponents {
            guard let c = manifest.components[name] else { print("\(name): not in this bundle"); continue }
            let bytes = manifest.diagnostics.components?[name]?.bytes
            let inputs = c.inputs.map { "\($0.name) \($0.shape) \($0.dtype.rawValue)" }.joined(separator: ", ")
            let outputs = c.outputs.map { "\($0.name) \($0.shape)" }.joined(separator: ", ")
            print("\(name): \(c.files.joined(separator: ", "))\(bytes.map { String(format: " (%.1f MB)", Double($0) / 1e6) } ?? ""); "
                  + "in: \(inputs); out: \(outputs)")
        }
        print("ok")
    }
}
