// Python twin: torch.randn(shape, generator=torch.Generator().manual_seed(seed)) on the CPU, float32: the
// noise mobilevid/sampling.py draws. ATen sources mirrored here: native/cpu/DistributionTemplates.h
// (normal_kernel, normal_fill, normal_fill_16, normal_fill_16_AVX2), native/cpu/avx_mathfun.h (log256_ps,
// sincos256_ps), core/DistributionsHelper.h (uniform_real_distribution, normal_distribution<double>),
// core/TransformationHelper.h (uniform_real).
//
// apple/ml-stable-diffusion's TorchRandomSource redraws the tail of a count that is not a multiple of 16
// with 53-bit doubles; ATen redraws it with 24-bit floats, as done here, so every count matches.
import Foundation

/// The same standard-normal float32 values as `torch.randn` with a seeded CPU generator.
///
/// ATen draws a float tensor of 16 or more values as follows: fill it with uniform floats (24 random bits
/// each), turn each block of 16 into normals by Box-Muller pairing value `j` with `j + 8`, and, when the
/// count is not a multiple of 16, draw 16 fresh uniforms for the last 16 values and transform them again.
/// Fewer than 16 values come one at a time from a double-precision Box-Muller that keeps its second value
/// for the next call (the generator's cached normal), rounded to float.
///
/// The block transform depends on the CPU torch ran on: `.avx2` is ATen's AVX2 kernel (x86-64 with AVX2
/// or AVX-512: the usual Linux, Windows and Intel-Mac machine) and uses only IEEE additions, products,
/// fused multiply-adds and square roots, so it gives the same bits on every platform, iPhones included.
/// `.scalar` is ATen's portable kernel (Apple silicon, ARM Linux, or `ATEN_CPU_CAPABILITY=default`) and
/// calls the platform's `logf`, `cosf` and `sinf`, so it matches torch bit for bit on the same C library.
public struct TorchRandomSource: Sendable {
    public enum Kernel: String, Sendable, CaseIterable {
        case avx2
        case scalar

        /// The kernel torch uses on a CPU of this `torch.backends.cpu.get_cpu_capability()`.
        public init(cpuCapability: String) {
            let value = cpuCapability.uppercased()
            self = value.hasPrefix("AVX2") || value.hasPrefix("AVX512") ? .avx2 : .scalar
        }
    }

    public let seed: UInt64
    public let kernel: Kernel
    private var engine: MersenneTwister
    /// ATen's `next_double_normal_sample`: the second value of the last double Box-Muller pair.
    private var cachedNormal: Double?

    public init(seed: UInt64, kernel: Kernel = .avx2) {
        self.seed = seed
        self.kernel = kernel
        engine = MersenneTwister(seed: seed)
    }

    /// `torch.randn(shape, generator=g)` for this generator `g`, advancing it as torch does.
    public mutating func normal(shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: normal(count: shape.reduce(1, *)))
    }

    /// `torch.randn(count, generator=g)`.
    public mutating func normal(count: Int) -> [Float] {
        precondition(count >= 0, "negative count \(count)")
        if count < 16 {
            return (0..<count).map { _ in Float(normalDouble()) }
        }
        var data = (0..<count).map { _ in uniformFloat() }
        var start = 0
        while start + 16 <= count {
            transform16(&data, at: start)
            start += 16
        }
        if count % 16 != 0 {
            for i in (count - 16)..<count { data[i] = uniformFloat() }
            transform16(&data, at: count - 16)
        }
        return data
    }

    /// A uniform float in [0, 1) from 24 random bits (`uniform_real_distribution<float>(0, 1)`).
    public mutating func uniformFloat() -> Float {
        Float(engine.next() & 0xFF_FFFF) * (1.0 / 16_777_216.0)
    }

    /// A uniform double in [0, 1) from 53 random bits (`uniform_real_distribution<double>(0, 1)`).
    public mutating func uniformDouble() -> Double {
        Double(engine.next64() & ((1 << 53) - 1)) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// One standard normal double (`normal_distribution<double>`), using and refilling the cached value.
    public mutating func normalDouble() -> Double {
        if let cached = cachedNormal {
            cachedNormal = nil
            return cached
        }
        let u1 = uniformDouble()
        let u2 = uniformDouble()
        let radius = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        cachedNormal = radius * sin(theta)
        return radius * cos(theta)
    }

    private func transform16(_ data: inout [Float], at start: Int) {
        switch kernel {
        case .avx2: Self.normalFill16AVX2(&data, at: start)
        case .scalar: Self.normalFill16(&data, at: start)
        }
    }

    /// `normal_fill_16`: the portable kernel; theta is computed in double and rounded, as ATen writes it.
    static func normalFill16(_ data: inout [Float], at start: Int) {
        for j in 0..<8 {
            let u1: Float = 1 - data[start + j]  // [0, 1) -> (0, 1] for the logarithm
            let u2 = data[start + j + 8]
            let radius = (-2 * log(u1)).squareRoot()
            let theta = Float(2.0 * Double.pi * Double(u2))
            data[start + j] = radius * cos(theta)
            data[start + j + 8] = radius * sin(theta)
        }
    }

    /// `normal_fill_16_AVX2`: eight lanes at a time in ATen, lane by lane here (the lanes are independent).
    static func normalFill16AVX2(_ data: inout [Float], at start: Int) {
        let twoPi = Float(2.0 * Double.pi)
        for j in 0..<8 {
            let u1: Float = 1 - data[start + j]
            let u2 = data[start + j + 8]
            let radius = (-2 * CephesFloat.log(u1)).squareRoot()
            let (sine, cosine) = CephesFloat.sincos(twoPi * u2)
            data[start + j] = radius * cosine
            data[start + j + 8] = radius * sine
        }
    }
}

/// One lane of ATen's `avx_mathfun.h` (Pommier's cephes-based SSE/AVX `log256_ps` and `sincos256_ps`).
///
/// ATen's AVX2 kernels are built by GCC with FMA enabled and floating-point contraction on, so GCC fuses
/// each product whose only use is an addition into a fused multiply-add, in statement order. The
/// `fma` calls below are exactly those fusions; a plain product-then-sum would differ in the last bit.
enum CephesFloat {
    /// `fma(a, b, c)` = a * b + c, rounded once.
    @inline(__always) static func fma(_ a: Float, _ b: Float, _ c: Float) -> Float {
        c.addingProduct(a, b)
    }

    static let logP: [Float] = [7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1,
                                1.4249322787E-1, -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1,
                                3.3333331174E-1]

    /// `log256_ps` for x in (0, 1] (the only inputs Box-Muller gives it).
    static func log(_ input: Float) -> Float {
        let x0 = max(input, Float(bitPattern: 0x0080_0000))  // cut off denormals, as ATen does
        let bits = x0.bitPattern
        var exponent = Float(Int32(bitPattern: bits >> 23) - 0x7F) + 1
        var x = Float(bitPattern: (bits & ~UInt32(0x7F80_0000)) | Float(0.5).bitPattern)  // mantissa in [0.5, 1)
        let below = x < Float(0.707106781186547524)
        let tmp: Float = below ? x : 0
        x -= 1
        exponent -= below ? 1 : 0
        x += tmp
        let z = x * x
        var y = logP[0]
        for p in logP.dropFirst() { y = fma(y, x, p) }
        y *= x
        y = fma(y, z, exponent * Float(-2.12194440e-4))
        y = fma(-z, 0.5, y)
        x += y
        return fma(exponent, Float(0.693359375), x)
    }

    /// `sincos256_ps`: (sin x, cos x) with cephes' range reduction by pi/4.
    static func sincos(_ input: Float) -> (sin: Float, cos: Float) {
        var signSin = input.bitPattern & 0x8000_0000
        var x = Float(bitPattern: input.bitPattern & 0x7FFF_FFFF)
        var y = x * Float(1.27323954473516)  // 4 / pi
        var octant = Int32(y)  // truncation, as _mm256_cvttps_epi32
        octant = (octant &+ 1) & ~1
        y = Float(octant)
        let swapSignSin = UInt32(bitPattern: (octant & 4) << 29)
        let usesSinePolynomial = (octant & 2) == 0
        // Extended-precision modular arithmetic: x = ((x - y * DP1) - y * DP2) - y * DP3.
        x = fma(y, Float(-0.78515625), x)
        x = fma(y, Float(-2.4187564849853515625e-4), x)
        x = fma(y, Float(-3.77489497744594108e-8), x)
        let signCos = UInt32(bitPattern: (~(octant &- 2) & 4) << 29)
        signSin ^= swapSignSin

        let z = x * x
        var c = fma(Float(2.443315711809948E-005), z, Float(-1.388731625493765E-003))
        c = fma(c, z, Float(4.166664568298827E-002))
        c *= z
        c = fma(c, z, -(z * 0.5))
        c += 1

        var s = fma(Float(-1.9515295891E-4), z, Float(8.3321608736E-3))
        s = fma(s, z, Float(-1.6666654611E-1))
        s *= z
        s = fma(s, x, x)

        let sinValue = usesSinePolynomial ? s : c
        let cosValue = usesSinePolynomial ? c : s
        return (Float(bitPattern: sinValue.bitPattern ^ signSin), Float(bitPattern: cosValue.bitPattern ^ signCos))
    }
}
