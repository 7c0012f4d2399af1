// Python twin: tests/test_sampling.py (mobilevid/sampling.py's rules, checked on values worked out by hand).
import XCTest
@testable import MobileVidCore

final class SamplingTests: XCTestCase {
    func testTimestepsAreFloat32OfSigmaTimes1000() {
        XCTAssertEqual(Sampling.timesteps([1, 0.75, 0.5, 0]), [1000, 750, 500])
        let sigma: Float = 0.3333333432674408
        XCTAssertEqual(Sampling.timesteps([sigma, 0]), [Float(Double(sigma) * 1000)])
    }

    func testGuidanceRule() {
        XCTAssertFalse(Sampling.usesGuidance(1))
        XCTAssertTrue(Sampling.usesGuidance(1.5))
        XCTAssertEqual(Sampling.callsPerStep(guidance: 1), 1)
        XCTAssertEqual(Sampling.denoiserCalls(steps: 4, guidance: 7), 8)
        let cond = Tensor(shape: [2], scalars: [3, -1])
        let uncond = Tensor(shape: [2], scalars: [1, 1])
        XCTAssertEqual(Sampling.combineGuidance(cond: cond, uncond: uncond, guidance: 2).scalars, [5, -3])
        XCTAssertThrowsError(try Sampling.checkGuidance(.nan))
    }

    func testEulerAndRenoiseSteps() {
        let x = Tensor(shape: [2], scalars: [1, 2])
        let v = Tensor(shape: [2], scalars: [0.5, -1])
        XCTAssertEqual(Sampling.eulerStep(x, velocity: v, sigma: 1, sigmaNext: 0.5).scalars, [0.75, 2.5])
        XCTAssertEqual(Sampling.cleanEstimate(x, velocity: v, sigma: 1).scalars, [0.5, 3])
        let noise = Tensor(shape: [2], scalars: [2, 0])
        // (1 - 0.5) * x0 + 0.5 * noise
        XCTAssertEqual(Sampling.renoiseStep(x, velocity: v, sigma: 1, sigmaNext: 0.5, noise: noise).scalars, [1.25, 1.5])
        XCTAssertEqual(Sampling.renoiseStep(x, velocity: v, sigma: 1, sigmaNext: 0, noise: nil).scalars, [0.5, 3])
        XCTAssertTrue(Sampling.needsFreshNoise(.x0Renoise, sigmaNext: 0.25))
        XCTAssertFalse(Sampling.needsFreshNoise(.x0Renoise, sigmaNext: 0))
        XCTAssertFalse(Sampling.needsFreshNoise(.flowMatchEuler, sigmaNext: 0.25))
    }

    /// With velocity = x (a fixed point of nothing), Euler multiplies by (1 + dt) at each step.
    func testEulerLoop() throws {
        var generator = TorchRandomSource(seed: 0)
        let noise = Tensor(shape: [1, 1], scalars: [2])
        var seen: [Float] = []
        let out = try Sampling.sample(velocity: { x, t in seen.append(t); return x }, noise: noise,
                                      sigmas: [1, 0.5, 0], kind: .flowMatchEuler, generator: &generator)
        XCTAssertEqual(seen, [1000, 500])
        XCTAssertEqual(out.scalars, [2 * 0.5 * 0.5])
    }

    /// The re-noise loop draws its fresh noise from the prompt's generator after the initial draw, per step
    /// to a level above 0, with the sample's shape minus the batch dimension.
    func testRenoiseLoopDrawsNoiseInOrder() throws {
        let shape = [1, 2, 3]
        var generator = try Sampling.promptGenerator(seed: 5)
        let noise = Sampling.drawNoise(&generator, shape: [2, 3]).reshaped(shape)
        let zero = Tensor(zeros: shape)
        let out = try Sampling.sample(velocity: { _, _ in zero }, noise: noise, sigmas: [1, 0.6, 0.2, 0],
                                      kind: .x0Renoise, generator: &generator)
        // With v = 0, x0 = x: two re-noise steps, then the last step returns x0.
        var reference = TorchRandomSource(seed: 5)
        let x0 = reference.normal(shape: [2, 3]).scalars
        let eps1 = reference.normal(shape: [2, 3]).scalars
        let eps2 = reference.normal(shape: [2, 3]).scalars
        let x1 = zip(x0, eps1).map { (1 - Float(0.6)) * $0 + Float(0.6) * $1 }
        let x2 = zip(x1, eps2).map { (1 - Float(0.2)) * $0 + Float(0.2) * $1 }
        XCTAssertEqual(out.scalars, x2)
    }

    func testCancellationAndNonFiniteOutput() {
        var generator = TorchRandomSource(seed: 0)
        let noise = Tensor(shape: [1], scalars: [1])
        XCTAssertThrowsError(try Sampling.sample(velocity: { x, _ in x }, noise: noise, sigmas: [1, 0.5, 0],
                                                 kind: .flowMatchEuler, generator: &generator,
                                                 progress: { $0 < 0 })) { error in
            XCTAssertEqual(error as? MobileVidError, .cancelled)
        }
        XCTAssertThrowsError(try Sampling.sample(velocity: { _, _ in Tensor(shape: [1], scalars: [.nan]) }, noise: noise,
                                                 sigmas: [1, 0], kind: .flowMatchEuler, generator: &generator)) { error in
            XCTAssertTrue("\(error)".contains("step 1 of 1"))
        }
    }

    func testSeedRule() throws {
        XCTAssertEqual(try Sampling.promptGenerator(seed: 7, index: 2).seed, 9)
        XCTAssertThrowsError(try Sampling.promptGenerator(seed: Sampling.seedMax, index: 1))
        XCTAssertThrowsError(try Sampling.checkSeed(UInt64.max))
    }

    func testPixels() {
        XCTAssertEqual(Sampling.latentsToPixels([-3, -1, 0, 1, 3]), [0, 0, 0.5, 1, 1])
        XCTAssertEqual(Sampling.pixelsToUInt8([0, 0.5, 1, 2, -1, .nan]), [0, 128, 255, 255, 0, 0])
    }

    func testFrameConverterLayout() throws {
        // (1, F=1, 3, H=1, W=2): channel planes -> interleaved RGBA.
        let decoded = Tensor(shape: [1, 1, 3, 1, 2], scalars: [-1, 1, 0, 0, 1, -1])
        let frames = try FrameConverter.frames(fromDecoderOutput: decoded)
        XCTAssertEqual(frames.count, 1)
        XCTAssertEqual(frames[0].bytes, [0, 128, 255, 255, 255, 128, 0, 255])
        XCTAssertThrowsError(try FrameConverter.frames(fromDecoderOutput: Tensor(zeros: [1, 1, 4, 1, 1])))
    }
}
