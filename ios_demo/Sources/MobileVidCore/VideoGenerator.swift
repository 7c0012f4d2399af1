// Python twin: mobilevid/export/bundle_runtime.py (BundlePipeline: tokenize, encode, sample_latents, decode),
// with the sampler rules of mobilevid/sampling.py. Every decision of a generation lives here, so the Core ML
// backend only loads and runs models.
import Foundation

/// What one generation produced.
public struct GeneratedVideo: Sendable {
    /// The sampler's final latents (1, F, C, h, w).
    public var latents: Tensor
    /// RGBA8 frames, `fps` per second.
    public var frames: [RGBAFrame]
    public var fps: Double
    public var seconds: Double
}

/// Where a generation is, for a progress bar.
public struct GenerationProgress: Sendable {
    public enum Stage: String, Sendable { case encodingText, denoising, decoding }
    public var stage: Stage
    /// Sampler steps finished (0 before the first).
    public var step: Int
    public var totalSteps: Int
    public var fractionDone: Double {
        switch stage {
        case .encodingText: return 0
        case .denoising: return 0.05 + 0.85 * Double(step) / Double(max(totalSteps, 1))
        case .decoding: return 0.9
        }
    }
}

/// Runs a bundle through any `ComponentRunner`, in the order the Python bundle runtime does.
public final class VideoGenerator {
    public let manifest: BundleManifest
    public let tokenizer: WordPieceTokenizer
    public let runner: ComponentRunner
    public let kernel: TorchRandomSource.Kernel
    /// Free each model as soon as it is done (load, run, unload one component at a time).
    public var reduceMemory: Bool
    /// Timings of every call (and the highest memory `memoryProbe` saw), for the Profile screen.
    public private(set) var report: LatencyReport
    /// The process's current memory in MB (the Apple backend reads phys_footprint); nil: not measured.
    public var memoryProbe: (() -> Double?)?

    public init(manifest: BundleManifest, tokenizer: WordPieceTokenizer, runner: ComponentRunner,
                kernel: TorchRandomSource.Kernel = .avx2, reduceMemory: Bool = false,
                device: LatencyReport.Device? = nil) {
        self.manifest = manifest
        self.tokenizer = tokenizer
        self.runner = runner
        self.kernel = kernel
        self.reduceMemory = reduceMemory
        report = LatencyReport(device: device ?? .current(computeUnits: "n/a"),
                               bundle: manifest.bundle?.lastPathComponent ?? "bundle", target: manifest.target,
                               quantize: manifest.quantize, runtime: manifest.target, steps: manifest.sampler.steps,
                               guidanceScale: manifest.sampler.guidanceScale)
    }

    /// Start a fresh latency report (e.g. before a profiling run).
    public func resetReport(device: LatencyReport.Device) {
        report = LatencyReport(device: device, bundle: report.bundle, target: report.target, quantize: report.quantize,
                               runtime: report.runtime, steps: report.steps, guidanceScale: report.guidanceScale)
    }

    /// The denoiser's text inputs for `prompt` (`BundlePipeline.encode`).
    public func encode(_ prompt: String) throws -> TextConditioning {
        let encoding = tokenizer.encode(prompt)
        return try timed(.textEncoder) { try runner.encodeText(ids: encoding.ids, attentionMask: encoding.attentionMask) }
    }

    /// One video for `prompt` seeded `seed` (`BundlePipeline.__call__` for one prompt).
    /// - Parameter progress: called at each stage and after each step; return false to cancel.
    public func generate(prompt: String, seed: UInt64,
                         progress: ((GenerationProgress) -> Bool)? = nil) throws -> GeneratedVideo {
        guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw MobileVidError.invalidArgument("empty prompt: give a text description")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var generator = try Sampling.promptGenerator(seed: seed, kernel: kernel)
        let sampler = manifest.sampler
        let guidance = try Sampling.checkGuidance(sampler.guidanceScale)
        let steps = sampler.steps
        func report(_ stage: GenerationProgress.Stage, _ step: Int) throws {
            if let progress, !progress(GenerationProgress(stage: stage, step: step, totalSteps: steps)) {
                throw MobileVidError.cancelled
            }
        }

        try report(.encodingText, 0)
        let cond = try encode(prompt)
        let null = Sampling.usesGuidance(guidance) ? try encode(manifest.tokenizer.nullPrompt) : nil
        if reduceMemory { runner.release(.textEncoder) }

        let noise = Sampling.drawNoise(&generator, shape: manifest.noise.shape).reshaped(manifest.latentShape)
        let velocity: (Tensor, Float) throws -> Tensor = { x, t in
            let v = try self.timed(.denoiser) { try self.runner.denoise(sample: x, timestep: t, text: cond) }
            guard let null else { return v }
            let vNull = try self.timed(.denoiser) { try self.runner.denoise(sample: x, timestep: t, text: null) }
            return Sampling.combineGuidance(cond: v, uncond: vNull, guidance: guidance)
        }
        try report(.denoising, 0)
        let latents = try Sampling.sample(velocity: velocity, noise: noise, sigmas: manifest.sigmas,
                                          kind: sampler.type, generator: &generator,
                                          progress: { i in
                                              (try? report(.denoising, i + 1)) != nil
                                          })
        if reduceMemory { runner.release(.denoiser) }

        try report(.decoding, steps)
        let decoded = try Sampling.checkFinite(try timed(.vaeDecoder) { try runner.decode(latents: latents) },
                                               where: "the VAE decoder output")
        if reduceMemory { runner.release(.vaeDecoder) }
        let frames = try FrameConverter.frames(fromDecoderOutput: decoded)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return GeneratedVideo(latents: latents, frames: frames, fps: manifest.video.fps, seconds: seconds)
    }

    /// Load every component once, then (in reduce-memory mode) unload it again, so the system keeps the compiled
    /// model cached and the first generation does not pay for compiling (ml-stable-diffusion's prewarm).
    public func prewarm() throws {
        for component in Component.allCases {
            let start = DispatchTime.now().uptimeNanoseconds
            try runner.load(component)
            report.recordLoad(component.rawValue, milliseconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            if reduceMemory { runner.release(component) }
        }
    }

    private func timed<T>(_ component: Component, _ body: () throws -> T) throws -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        let value = try body()
        report.record(component.rawValue, milliseconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        if let megabytes = memoryProbe?() { report.recordPeakMemory(component.rawValue, megabytes: megabytes) }
        return value
    }
}
