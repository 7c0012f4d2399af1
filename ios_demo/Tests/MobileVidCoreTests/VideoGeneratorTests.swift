// Python twin: tests/export/test_onnx_bundle.py's bundle-runtime checks, with a runner that records its calls
// in place of the models (the real models are replayed by tests/ios_demo/test_swift_cli.py).
import XCTest
@testable import MobileVidCore

/// Velocity = 0.1 * sample, text states ignored; records the order of calls and releases.
final class ScriptedRunner: ComponentRunner {
    var events: [String] = []
    let frames: Int
    init(frames: Int) { self.frames = frames }

    func encodeText(ids: [Int32], attentionMask: [Int32]) throws -> TextConditioning {
        events.append("encode \(attentionMask.reduce(0, +))")
        return TextConditioning(states: Tensor(zeros: [1, ids.count, 2]), mask: Tensor(zeros: [1, ids.count]),
                                pooled: Tensor(zeros: [1, 2]))
    }

    func denoise(sample: Tensor, timestep: Float, text: TextConditioning) throws -> Tensor {
        events.append("denoise \(Int(timestep))")
        return Tensor(shape: sample.shape, scalars: sample.scalars.map { 0.1 * $0 })
    }

    func decode(latents: Tensor) throws -> Tensor {
        events.append("decode")
        return Tensor(zeros: [1, frames, 3, 2, 2])
    }

    func release(_ component: Component) { events.append("release \(component.rawValue)") }
}

final class VideoGeneratorTests: XCTestCase {
    func makeManifest(guidance: Double, type: SamplerType = .x0Renoise) throws -> BundleManifest {
        var manifest = try ManifestTests.sampleManifest()
        manifest.sampler.guidanceScale = guidance
        manifest.sampler.callsPerStep = guidance == 1 ? 1 : 2
        manifest.sampler.type = type
        return manifest
    }

    func testGuidedRunCallsConditionalThenUnconditionalAndReleasesInReduceMemory() throws {
        let manifest = try makeManifest(guidance: 3, type: .flowMatchEuler)
        let runner = ScriptedRunner(frames: manifest.video.frames)
        let tokenizer = try WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "cat"],
                                               maxLength: manifest.tokenizer.maxLength)
        let generator = VideoGenerator(manifest: manifest, tokenizer: tokenizer, runner: runner, reduceMemory: true)
        let video = try generator.generate(prompt: "cat", seed: 1)
        let t = Sampling.timesteps(manifest.sigmas).map { Int($0) }
        var expected = ["encode 3", "encode 2", "release text_encoder"]
        for step in t { expected += ["denoise \(step)", "denoise \(step)"] }
        expected += ["release denoiser", "decode", "release vae_decoder"]
        XCTAssertEqual(runner.events, expected)
        XCTAssertEqual(video.frames.count, manifest.video.frames)
        XCTAssertEqual(video.latents.shape, manifest.latentShape)
        let timed = generator.report.measurements["denoiser"]?.milliseconds.count
        XCTAssertEqual(timed, 2 * manifest.sampler.steps)
    }

    func testCancelStopsBeforeDecoding() throws {
        let manifest = try makeManifest(guidance: 1)
        let runner = ScriptedRunner(frames: manifest.video.frames)
        let tokenizer = try WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]"], maxLength: manifest.tokenizer.maxLength)
        let generator = VideoGenerator(manifest: manifest, tokenizer: tokenizer, runner: runner)
        XCTAssertThrowsError(try generator.generate(prompt: "a", seed: 0) { $0.stage == .denoising && $0.step >= 1 ? false : true }) {
            XCTAssertEqual($0 as? MobileVidError, .cancelled)
        }
        XCTAssertEqual(runner.events.filter { $0.hasPrefix("denoise") }.count, 1)
        XCTAssertFalse(runner.events.contains("decode"))
    }

    func testEmptyPromptIsRefusedBeforeAnyModelRuns() throws {
        let manifest = try makeManifest(guidance: 1)
        let runner = ScriptedRunner(frames: manifest.video.frames)
        let tokenizer = try WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]"], maxLength: 8)
        let generator = VideoGenerator(manifest: manifest, tokenizer: tokenizer, runner: runner)
        XCTAssertThrowsError(try generator.generate(prompt: "  ", seed: 0))
        XCTAssertEqual(runner.events, [])
    }

    func testDoesNotFitMessageSuggestsReduceMemory() throws {
        let manifest = try makeManifest(guidance: 1)
        let sizes = manifest.diagnostics.components!.values.map(\.bytes)
        let all = MemoryBudget.requiredBytes(componentBytes: sizes, reduceMemory: false)
        XCTAssertNoThrow(try MemoryBudget.check(manifest: manifest, availableBytes: all, reduceMemory: false))
        XCTAssertThrowsError(try MemoryBudget.check(manifest: manifest, availableBytes: all - 1, reduceMemory: false)) {
            XCTAssertTrue("\($0)".contains("reduce-memory"), "\($0)")
        }
    }
}
