// Python twin: the engine of torch.Generator() on the CPU (ATen's at::mt19937, c10/core/CPUGeneratorImpl):
// 32-bit MT19937 (Matsumoto & Nishimura 1998), seeded with the low 32 bits of the seed as ATen does.

/// MT19937, the 32-bit Mersenne Twister, seeded exactly as `torch.Generator().manual_seed(seed)`.
public struct MersenneTwister: Sendable {
    private static let n = 624
    private static let m = 397
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    /// ATen keeps the 64-bit seed but initialises the state from its low 32 bits (`init_with_uint32`).
    public init(seed: UInt64) {
        state[0] = UInt32(truncatingIfNeeded: seed)
        for j in 1..<Self.n {
            let previous = state[j - 1]
            state[j] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(j)
        }
        index = Self.n
    }

    /// The next 32 random bits (ATen: `CPUGeneratorImpl::random`).
    public mutating func next() -> UInt32 {
        if index >= Self.n { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// 64 random bits from two draws, the first as the high half (ATen: `random64`, `make64BitsFrom32Bits`).
    public mutating func next64() -> UInt64 {
        let high = UInt64(next())
        let low = UInt64(next())
        return (high << 32) | low
    }

    private mutating func twist() {
        for i in 0..<Self.n {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % Self.n] & 0x7FFF_FFFF)
            var value = state[(i + Self.m) % Self.n] ^ (y >> 1)
            if y & 1 != 0 { value ^= 0x9908_B0DF }
            state[i] = value
        }
        index = 0
    }
}
