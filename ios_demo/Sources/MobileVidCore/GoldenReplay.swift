// Python twin: the run mobilevid/export/golden.py records (mobilevid/export/bundle_runtime.py BundlePipeline
// on ONNX Runtime or ExecuTorch): the Swift generator replays it with the recorded model outputs in place
// of the models, so everything Swift computes itself (tokens, noise, every sampler step, the frames) is
// compared with Python's.
import Foundation

/// A `ComponentRunner` that answers with the outputs Python recorded, checking that it is asked what
/// Python asked (same token ids, same timesteps; the latents' difference is measured, not required equal).
public final class RecordedRunner: ComponentRunner {
    private let golden: GoldenVectors
    private var calls = 0
    /// The largest difference between the latents Swift fed the denoiser and those Python fed it.
    public private(set) var worstSampleDifference: Float = 0

    public init(golden: GoldenVectors) { self.golden = golden }

    public func encodeText(ids: [Int32], attentionMask: [Int32]) throws -> TextConditioning {
        let run = golden.index.run
        for entry in [run.text] + (run.nullText.map { [$0] } ?? []) {
            if try golden.int32(entry.inputIds) == ids && golden.int32(entry.attentionMask) == attentionMask {
                let mask = attentionMask.map(Float.init)
                return TextConditioning(states: try golden.float32(entry.textStates),
                                        mask: Tensor(shape: [1, mask.count], scalars: mask),
                                        pooled: try golden.float32(entry.pooledText))
            }
        }
        throw MobileVidError.invalidArgument("the Swift tokenizer gave token ids Python never ran: \(ids)")
    }

    public func denoise(sample: Tensor, timestep: Float, text: TextConditioning) throws -> Tensor {
        let run = golden.index.run
        let guided = run.steps.first?.velocityUncond != nil
        let stepIndex = guided ? calls / 2 : calls
        let unconditional = guided && calls % 2 == 1
        calls += 1
        guard stepIndex < run.steps.count else {
            throw MobileVidError.invalidArgument("the Swift sampler called the denoiser more often than Python (\(calls) calls)")
        }
        let step = run.steps[stepIndex]
        guard timestep == step.timestep else {
            throw MobileVidError.invalidArgument("step \(stepIndex + 1): Swift's timestep \(timestep) is not Python's \(step.timestep)")
        }
        let recorded = try golden.float32(step.sample)
        guard recorded.shape == sample.shape else {
            throw MobileVidError.wrongShape(what: "the replayed denoiser input", expected: recorded.shape, got: sample.shape)
        }
        worstSampleDifference = max(worstSampleDifference, recorded.maxAbsDifference(sample))
        return try golden.float32(unconditional ? step.velocityUncond! : step.velocityCond)
    }

    public func decode(latents: Tensor) throws -> Tensor {
        try golden.float32(golden.index.run.decoded)
    }
}

/// What a replay found, all against Python.
public struct ReplayResult: Sendable {
    public var tokenCases = 0
    public var tokenMismatches: [String] = []
    public var noiseCases = 0
    public var noiseMaxError: Float = 0
    public var noiseValuesDiffering = 0
    public var stepInputMaxError: Float = 0
    public var latentsMaxError: Float = 0
    public var framesMaxGreyLevels = 0
    public var frameCount = 0

    public static let latentsTolerance = 1e-5
    public static let greyLevelTolerance = 1

    public var passed: Bool {
        tokenMismatches.isEmpty && noiseMaxError <= 1e-6 && Double(latentsMaxError) <= Self.latentsTolerance
            && framesMaxGreyLevels <= Self.greyLevelTolerance
    }

    public var jsonObject: [String: Any] {
        ["passed": passed, "token_cases": tokenCases, "token_mismatches": tokenMismatches, "noise_cases": noiseCases,
         "noise_max_error": Double(noiseMaxError), "noise_values_differing": noiseValuesDiffering,
         "step_input_max_error": Double(stepInputMaxError), "latents_max_error": Double(latentsMaxError),
         "latents_tolerance": Self.latentsTolerance, "frames_max_grey_levels": framesMaxGreyLevels,
         "frames": frameCount]
    }
}

public enum GoldenReplay {
    /// Replays `golden` (from a bundle whose manifest is `manifest`): tokens, noise, the whole run.
    /// - Parameter report: receives the latency report of the replayed generation.
    public static func run(_ golden: GoldenVectors, manifest: BundleManifest,
                           report: ((LatencyReport) -> Void)? = nil) throws -> ReplayResult {
        var result = ReplayResult()
        let tokenizer = try manifest.makeTokenizer()
        for case_ in golden.index.tokens {
            let encoding = tokenizer.encode(case_.prompt)
            result.tokenCases += 1
            if try encoding.ids != golden.int32(case_.inputIds) || encoding.attentionMask != golden.int32(case_.attentionMask) {
                result.tokenMismatches.append(case_.prompt)
            }
        }
        for case_ in golden.index.noise {
            var generator = TorchRandomSource(seed: case_.seed, kernel: golden.kernel)
            let expected = try golden.float32(case_.tensor).scalars
            let ours = case_.shapes.flatMap { generator.normal(shape: $0).scalars }
            guard ours.count == expected.count else {
                throw MobileVidError.wrongShape(what: "golden noise for seed \(case_.seed)", expected: [ours.count],
                                                got: [expected.count])
            }
            result.noiseCases += 1
            for (a, b) in zip(ours, expected) where a != b {
                result.noiseValuesDiffering += 1
                result.noiseMaxError = max(result.noiseMaxError, abs(a - b))
            }
        }
        let run = golden.index.run
        guard run.sigmas == manifest.sigmas, run.sampler == manifest.sampler.type,
              run.guidanceScale == Float(manifest.sampler.guidanceScale) else {
            throw MobileVidError.invalidArgument("the golden run was made with another sampler than the manifest states")
        }
        let runner = RecordedRunner(golden: golden)
        let generator = VideoGenerator(manifest: manifest, tokenizer: tokenizer, runner: runner, kernel: golden.kernel,
                                       device: .current(name: "mobilevid-swift replay", computeUnits: "none"))
        let video = try generator.generate(prompt: run.prompt, seed: run.seed)
        report?(generator.report)
        result.stepInputMaxError = runner.worstSampleDifference
        result.latentsMaxError = video.latents.maxAbsDifference(try golden.float32(run.finalLatents))
        let (shape, expectedFrames) = try golden.uint8(run.frames)  // (F, H, W, 3), as Python's to_uint8
        guard shape.count == 4, shape[0] == video.frames.count, shape[3] == 3 else {
            throw MobileVidError.wrongShape(what: "golden frames", expected: [video.frames.count, -1, -1, 3], got: shape)
        }
        result.frameCount = video.frames.count
        for (f, frame) in video.frames.enumerated() {
            for p in 0..<(frame.width * frame.height) {
                for c in 0..<3 {
                    let ours = Int(frame.bytes[4 * p + c])
                    let theirs = Int(expectedFrames[(f * frame.width * frame.height + p) * 3 + c])
                    result.framesMaxGreyLevels = max(result.framesMaxGreyLevels, abs(ours - theirs))
                }
            }
        }
        return result
    }
}
