// Python twin: mobilevid/export/golden.py (what it recorded is replayed here).
import Foundation
import MobileVidCore

enum ReplayCommand {
    static let usage = """
    usage: mobilevid-swift replay GOLDEN_DIR [--bundle DIR] [--json] [--profile-json FILE]

    Replays the golden vectors Python wrote for a bundle (mobilevid golden --bundle DIR): the Swift tokenizer on
    the recorded prompts, the Swift random source on the recorded seeds, and the whole Swift generator (sampler,
    guidance, noise, frame conversion) with the recorded model outputs standing in for the models. Prints the
    largest error against Python's final latents and frames; exits 1 when any is beyond tolerance (latents
    \(ReplayResult.latentsTolerance), frames \(ReplayResult.greyLevelTolerance) grey level, tokens exact,
    noise 1e-6). --bundle defaults to GOLDEN_DIR's parent folder. --profile-json writes the latency report of
    the replayed run (runtime "replay": the recorded outputs stand in for the models, so the times are the
    Swift side's own work), in the schema mobilevid profile --device-json reads, as the app writes it.
    """

    static func run(_ argv: [String]) throws {
        let args = try Arguments(argv, valued: ["--bundle", "--profile-json"], switches: ["--json"])
        guard args.positional.count == 1 else { throw UsageError("give one golden folder") }
        let folder = URL(fileURLWithPath: args.positional[0])
        let bundle = args.value("--bundle").map { URL(fileURLWithPath: $0) } ?? folder.deletingLastPathComponent()
        let golden = try GoldenVectors(folder: folder)
        let manifest = try BundleManifest.load(bundle: bundle)
        var report: LatencyReport?
        let result = try GoldenReplay.run(golden, manifest: manifest) { report = $0 }
        if let path = args.value("--profile-json"), var report {
            report.runtime = "replay"
            report.memoryMethod = "not measured (replay)"
            try report.write(to: URL(fileURLWithPath: path))
        }
        if args.has("--json") {
            try writeJSON(result.jsonObject)
        } else {
            print("tokens: \(result.tokenCases - result.tokenMismatches.count) of \(result.tokenCases) prompts equal Python's")
            print("noise: \(result.noiseCases) seed(s), \(result.noiseValuesDiffering) value(s) differ, largest error \(result.noiseMaxError)")
            print("sampler inputs: largest error \(result.stepInputMaxError) against Python's denoiser inputs")
            print("final latents: largest error \(result.latentsMaxError) (tolerance \(ReplayResult.latentsTolerance))")
            print("frames: \(result.frameCount), largest difference \(result.framesMaxGreyLevels) grey level(s)")
        }
        guard result.passed else {
            let tokens = result.tokenMismatches.isEmpty ? "" : "; tokens differ for \(result.tokenMismatches.count) prompt(s)"
            throw MobileVidError.invalidArgument("replay does not match Python: latents error \(result.latentsMaxError), "
                                                 + "frames \(result.framesMaxGreyLevels) grey level(s), noise error \(result.noiseMaxError)\(tokens)")
        }
    }
}
