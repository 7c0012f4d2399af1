// Python twin: mobilevid/sampling.py (the sampler contract). Same functions, same order of float32
// operations, so the same inputs give the same bits: schedule timesteps, the rule picking the step, guidance,
// the Euler and re-noise steps, the noise rule, the loop, and latents -> pixels.
import Foundation

public enum SamplerType: String, Codable, CaseIterable, Sendable {
    /// A teacher's flow-matching Euler steps (diffusers' FlowMatchEulerDiscreteScheduler; Esser et al. 2024).
    case flowMatchEuler = "flow_match_euler"
    /// A distilled student's steps: clean estimate re-noised with fresh noise (ADD, Sauer et al. 2023; LADD).
    case x0Renoise = "x0_renoise"
}

/// Called after each step with (step index, input latents, timestep, velocity, output latents).
public typealias StepHook = (Int, Tensor, Float, Tensor, Tensor) -> Void

public enum Sampling {
    public static let timestepScale: Double = 1000  // mobilevid/models/rectified_flow.py TIMESTEP_SCALE
    public static let seedMax: UInt64 = UInt64(Int64.max)  // torch.Generator.manual_seed takes a signed 64-bit seed

    // MARK: schedule

    /// `timesteps`: the denoiser's timestep input at each step, `float32(sigma * 1000)`, all but the last level.
    public static func timesteps(_ sigmas: [Float]) -> [Float] {
        sigmas.dropLast().map { Float(Double($0) * timestepScale) }
    }

    // MARK: the rule that picks the step, and what it costs

    /// `uses_guidance`: any scale but exactly 1 needs the unconditional call.
    public static func usesGuidance(_ guidance: Float) -> Bool { guidance != 1 }

    /// `calls_per_step`.
    public static func callsPerStep(guidance: Float) -> Int { usesGuidance(guidance) ? 2 : 1 }

    /// `denoiser_calls`.
    public static func denoiserCalls(steps: Int, guidance: Float) -> Int { steps * callsPerStep(guidance: guidance) }

    /// `check_guidance`.
    public static func checkGuidance(_ guidance: Double) throws -> Float {
        guard guidance.isFinite else {
            throw MobileVidError.invalidArgument("guidance scale must be a finite number, got \(guidance)")
        }
        return Float(guidance)
    }

    /// `check_seed` for one prompt.
    public static func checkSeed(_ seed: UInt64) throws -> UInt64 {
        guard seed <= seedMax else {
            throw MobileVidError.invalidArgument("seed must be an integer in [0, \(seedMax)], got \(seed)")
        }
        return seed
    }

    /// `needs_fresh_noise`: a re-noise step to a level above 0 draws noise.
    public static func needsFreshNoise(_ kind: SamplerType, sigmaNext: Float) -> Bool {
        kind == .x0Renoise && sigmaNext > 0
    }

    // MARK: guidance and steps (element-wise float32, in the order torch evaluates them)

    /// `combine_guidance`: `v_uncond + g * (v_cond - v_uncond)`.
    public static func combineGuidance(cond: Tensor, uncond: Tensor, guidance: Float) -> Tensor {
        precondition(cond.shape == uncond.shape, "guidance needs two velocities of one shape")
        var out = uncond
        for i in out.scalars.indices {
            let difference = cond.scalars[i] - uncond.scalars[i]
            let scaled = guidance * difference
            out.scalars[i] = uncond.scalars[i] + scaled
        }
        return out
    }

    /// `euler_step`: `x + (sigma_next - sigma) * v`.
    public static func eulerStep(_ x: Tensor, velocity: Tensor, sigma: Float, sigmaNext: Float) -> Tensor {
        precondition(x.shape == velocity.shape, "latents \(x.shape) and velocity \(velocity.shape) differ")
        let dt = sigmaNext - sigma
        var out = x
        for i in out.scalars.indices {
            let step = dt * velocity.scalars[i]
            out.scalars[i] = x.scalars[i] + step
        }
        return out
    }

    /// `clean_estimate`: `x0 = x - sigma * v`.
    public static func cleanEstimate(_ x: Tensor, velocity: Tensor, sigma: Float) -> Tensor {
        precondition(x.shape == velocity.shape, "latents \(x.shape) and velocity \(velocity.shape) differ")
        var out = x
        for i in out.scalars.indices {
            let scaled = sigma * velocity.scalars[i]
            out.scalars[i] = x.scalars[i] - scaled
        }
        return out
    }

    /// `renoise_step`: `(1 - s') * x0 + s' * noise`, or `x0` at the last level (`noise` nil).
    public static func renoiseStep(_ x: Tensor, velocity: Tensor, sigma: Float, sigmaNext: Float,
                                   noise: Tensor?) -> Tensor {
        let x0 = cleanEstimate(x, velocity: velocity, sigma: sigma)
        guard let noise else { return x0 }
        precondition(noise.shape == x.shape, "noise \(noise.shape) and latents \(x.shape) differ")
        let keep: Float = 1 - sigmaNext
        var out = x0
        for i in out.scalars.indices {
            let clean = keep * x0.scalars[i]
            let fresh = sigmaNext * noise.scalars[i]
            out.scalars[i] = clean + fresh
        }
        return out
    }

    // MARK: noise

    /// `prompt_generators` for prompt `index` of a batch seeded `seed`: the generator seeded `seed + index`.
    public static func promptGenerator(seed: UInt64, index: Int = 0,
                                       kernel: TorchRandomSource.Kernel = .avx2) throws -> TorchRandomSource {
        let (value, overflow) = seed.addingReportingOverflow(UInt64(index))
        guard !overflow, value <= seedMax else {
            throw MobileVidError.invalidArgument("seed must be an integer in [0, \(seedMax)], got \(seed)")
        }
        return TorchRandomSource(seed: value, kernel: kernel)
    }

    /// `draw_noise` for one generator: a float32 standard-normal tensor of `shape` (no batch dimension).
    public static func drawNoise(_ generator: inout TorchRandomSource, shape: [Int]) -> Tensor {
        generator.normal(shape: shape)
    }

    // MARK: the loop

    /// `check_finite`.
    @discardableResult
    public static func checkFinite(_ tensor: Tensor, where place: String) throws -> Tensor {
        guard tensor.scalars.allSatisfy({ $0.isFinite }) else {
            throw MobileVidError.notFinite("non-finite values (NaN or Inf) in \(place): check the model's weights "
                                           + "and the guidance scale")
        }
        return tensor
    }

    /// `sample` for one video (batch 1): integrate from `noise` at `sigmas[0]` down to `sigmas.last`.
    ///
    /// - Parameters:
    ///   - velocity: the denoiser (guidance already combined), called with the latents and the timestep.
    ///   - noise: the initial latents, shaped like the denoiser's sample input (batch 1 included).
    ///   - generator: the prompt's generator, already past the initial draw; re-noise steps draw from it.
    ///   - progress: called after each step; return false to stop (the sampler throws `.cancelled`).
    public static func sample(velocity: (Tensor, Float) throws -> Tensor, noise: Tensor, sigmas: [Float],
                              kind: SamplerType, generator: inout TorchRandomSource,
                              progress: ((Int) -> Bool)? = nil, onStep: StepHook? = nil) throws -> Tensor {
        var x = noise
        let steps = timesteps(sigmas)
        for (i, t) in steps.enumerated() {
            let sigma = sigmas[i], next = sigmas[i + 1]
            let v = try checkFinite(try velocity(x, t), where: "the denoiser output at step \(i + 1) of \(steps.count)")
            guard v.shape == x.shape else {
                throw MobileVidError.wrongShape(what: "the denoiser output", expected: x.shape, got: v.shape)
            }
            let out: Tensor
            switch kind {
            case .flowMatchEuler:
                out = eulerStep(x, velocity: v, sigma: sigma, sigmaNext: next)
            case .x0Renoise:
                // The noise has the sample's shape without the batch dimension, as torch draws it per generator.
                let fresh = needsFreshNoise(kind, sigmaNext: next)
                    ? drawNoise(&generator, shape: Array(x.shape.dropFirst())).reshaped(x.shape) : nil
                out = renoiseStep(x, velocity: v, sigma: sigma, sigmaNext: next, noise: fresh)
            }
            onStep?(i, x, t, v, out)
            x = out
            if let progress, !progress(i) { throw MobileVidError.cancelled }
        }
        return x
    }

    // MARK: pixels

    /// `latents_to_pixels`: decoder output (about [-1, 1]) -> [0, 1], `clamp((x + 1) / 2, 0, 1)`.
    public static func latentsToPixels(_ decoded: [Float]) -> [Float] {
        decoded.map { value in
            let shifted = (value + 1) / 2
            return shifted.isNaN ? shifted : min(max(shifted, 0), 1)
        }
    }

    /// `pixels_to_uint8`: [0, 1] -> `round(p * 255)`, half to even.
    public static func pixelsToUInt8(_ pixels: [Float]) -> [UInt8] {
        pixels.map { p in
            if p.isNaN { return 0 }  // torch turns NaN into 0 as well; the sampler refuses non-finite latents first
            let clamped = min(max(p, 0), 1)
            return UInt8((clamped * 255).rounded(.toNearestOrEven))
        }
    }
}

/// Module-level spellings, so FrameConverter and callers read like the Python.
public func latentsToPixels(_ decoded: [Float]) -> [Float] { Sampling.latentsToPixels(decoded) }
public func pixelsToUInt8(_ pixels: [Float]) -> [UInt8] { Sampling.pixelsToUInt8(pixels) }
