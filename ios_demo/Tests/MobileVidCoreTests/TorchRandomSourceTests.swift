// Python twin: torch.randn with a seeded CPU generator (values in Fixtures/randn_*.bin, written by torch).
import XCTest
@testable import MobileVidCore

final class TorchRandomSourceTests: XCTestCase {
    /// The C++ standard's check of mt19937: the 10000th output of the default seed 5489 is 4123659995.
    func testMersenneTwisterMatchesTheStandard() {
        var mt = MersenneTwister(seed: 5489)
        var value: UInt32 = 0
        for _ in 0..<10_000 { value = mt.next() }
        XCTAssertEqual(value, 4_123_659_995)
    }

    /// Seeds are truncated to 32 bits by ATen's engine: 2^32 + 7 seeds as 7.
    func testSeedUsesLow32Bits() {
        var a = MersenneTwister(seed: (1 << 32) + 7)
        var b = MersenneTwister(seed: 7)
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
    }

    func testMatchesTorchBitForBit() throws {
        let cases = try XCTUnwrap(Fixtures.json("randn.json") as? [[String: Any]])
        var checked = 0
        for item in cases {
            let kernel = try XCTUnwrap(TorchRandomSource.Kernel(rawValue: item["kernel"] as! String))
            #if !os(Linux)
            // The scalar kernel calls the C library's logf/cosf/sinf; the fixture was written with glibc's.
            if kernel == .scalar { continue }
            #endif
            let seed = (item["seed"] as! NSNumber).uint64Value
            let shapes = (item["shapes"] as! [[Int]])
            let expected = try Fixtures.float32(item["file"] as! String)
            var source = TorchRandomSource(seed: seed, kernel: kernel)
            let ours = shapes.flatMap { source.normal(shape: $0).scalars }
            XCTAssertEqual(ours.count, expected.count)
            let differing = zip(ours, expected).filter { $0.bitPattern != $1.bitPattern }.count
            XCTAssertEqual(differing, 0, "seed \(seed) shapes \(shapes) kernel \(kernel): \(differing) values differ")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 5)
    }

    /// apple/ml-stable-diffusion's tail bug: a count that is not a multiple of 16 must redraw its last 16
    /// values as floats. Drawing 17 values equals drawing 16 and then the tail block from the same stream.
    func testTailIsRedrawnWithFloats() {
        var source = TorchRandomSource(seed: 3)
        let seventeen = source.normal(count: 17)
        var uniforms = TorchRandomSource(seed: 3)
        var block = (0..<17).map { _ in uniforms.uniformFloat() }
        var tail = (0..<16).map { _ in uniforms.uniformFloat() }
        TorchRandomSource.normalFill16AVX2(&block, at: 0)
        TorchRandomSource.normalFill16AVX2(&tail, at: 0)
        XCTAssertEqual(Array(seventeen[0..<1]), Array(block[0..<1]))
        XCTAssertEqual(Array(seventeen[1..<17]), tail)
    }

    /// Below 16 values torch keeps the second Box-Muller value in the generator for the next draw.
    func testOddSmallDrawsUseTheCachedNormal() {
        var once = TorchRandomSource(seed: 11)
        let two = once.normal(count: 2)
        var split = TorchRandomSource(seed: 11)
        XCTAssertEqual(split.normal(count: 1) + split.normal(count: 1), two)
    }

    func testKernelFromTorchCapability() {
        XCTAssertEqual(TorchRandomSource.Kernel(cpuCapability: "AVX512"), .avx2)
        XCTAssertEqual(TorchRandomSource.Kernel(cpuCapability: "AVX2"), .avx2)
        XCTAssertEqual(TorchRandomSource.Kernel(cpuCapability: "DEFAULT"), .scalar)
        XCTAssertEqual(TorchRandomSource.Kernel(cpuCapability: "SVE256"), .scalar)
    }

    func testStandardNormalStatistics() {
        var source = TorchRandomSource(seed: 0)
        let values: [Double] = source.normal(count: 100_000).map { Double($0) }
        let mean: Double = values.reduce(0, +) / Double(values.count)
        var variance: Double = 0
        for value in values { variance += (value - mean) * (value - mean) }
        variance /= Double(values.count)
        XCTAssertEqual(mean, 0, accuracy: 0.02)
        XCTAssertEqual(variance, 1, accuracy: 0.02)
    }
}
