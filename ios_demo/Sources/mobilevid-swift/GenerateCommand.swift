// Python twin: mobilevid/cli/generate.py (`mobilevid generate --bundle`). Apple systems only: it runs the
// Core ML backend, which exists only where Core ML does; on Linux the command is not offered.
import Foundation
import MobileVidCore
#if canImport(CoreML) && canImport(AVFoundation)
import MobileVidCoreML

enum GenerateCommand {
    static let usage = """
    usage: mobilevid-swift generate --bundle DIR PROMPT -o OUT.mp4 [--seed S] [--compute-units all|cpuOnly|cpuAndGPU|cpuAndNeuralEngine]
                                   [--reduce-memory] [--profile-json FILE]

    Generates one video from PROMPT with a Core ML bundle (mobilevid export --target coreml) and writes it as
    H.264 MP4. --profile-json writes the per-component latency report mobilevid profile --device-json reads.
    """

    static let entries: [(name: String, summary: String, usage: String, run: ([String]) throws -> Void)] = [
        ("generate", "make a video with a Core ML bundle (Apple systems only)", usage, run),
    ]

    static func run(_ argv: [String]) throws {
        let args = try Arguments(argv, valued: ["--bundle", "-o", "--output", "--seed", "--compute-units", "--profile-json"],
                                 switches: ["--reduce-memory"])
        guard let bundle = args.value("--bundle") else { throw UsageError("--bundle is required") }
        guard let output = args.value("-o") ?? args.value("--output") else { throw UsageError("-o OUT.mp4 is required") }
        guard args.positional.count == 1 else { throw UsageError("give one PROMPT (quote it)") }
        let seed = try parseSeed(args.value("--seed") ?? "0")
        let units = try CoreMLBackend.computeUnits(named: args.value("--compute-units") ?? "cpuAndNeuralEngine")
        let manifest = try BundleManifest.load(bundle: URL(fileURLWithPath: bundle))
        let backend = try CoreMLBackend(manifest: manifest, computeUnits: units)
        let generator = VideoGenerator(manifest: manifest, tokenizer: try manifest.makeTokenizer(), runner: backend,
                                       reduceMemory: args.has("--reduce-memory"),
                                       device: CoreMLBackend.device(computeUnits: units))
        generator.memoryProbe = CoreMLBackend.physicalFootprintMB
        try generator.prewarm()
        let video = try generator.generate(prompt: args.positional[0], seed: seed) { progress in
            FileHandle.standardError.write("\r\(progress.stage.rawValue) step \(progress.step)/\(progress.totalSteps)".data(using: .utf8)!)
            return true
        }
        FileHandle.standardError.write("\n".data(using: .utf8)!)
        try VideoWriter.writeMP4(video.frames, fps: video.fps, to: URL(fileURLWithPath: output))
        print("wrote \(output) (\(video.frames.count) frames, \(String(format: "%.1f", video.seconds)) s)")
        if let profile = args.value("--profile-json") {
            try generator.report.write(to: URL(fileURLWithPath: profile))
            print("wrote \(profile)")
        }
    }
}
#else
enum GenerateCommand {
    /// Not offered here: generation needs Core ML (macOS or iOS).
    static let entries: [(name: String, summary: String, usage: String, run: ([String]) throws -> Void)] = []
}
#endif
