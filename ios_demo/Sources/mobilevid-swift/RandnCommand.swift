// Python twin: torch.randn(shape, generator=torch.Generator().manual_seed(seed)) (mobilevid/sampling.py draw_noise).
import Foundation
import MobileVidCore

enum RandnCommand {
    static let usage = """
    usage: mobilevid-swift randn --seed S --shape D0,D1,... [--shape ...] [--kernel avx2|scalar] [-o FILE]

    Draws torch.randn(shape, generator=torch.Generator().manual_seed(S)) for each --shape in turn from one
    generator (as a sampler draws its initial noise, then its re-noise steps). Prints a JSON list of the
    values per draw, or with -o writes all draws one after another as raw little-endian float32.
    --kernel: which of torch's CPU kernels to reproduce (default avx2: torch on x86-64 with AVX2 or AVX-512;
    scalar: torch on CPUs without AVX2, e.g. Apple silicon).
    """

    static func run(_ argv: [String]) throws {
        let args = try Arguments(argv, valued: ["--seed", "--shape", "--kernel", "-o", "--output"], switches: [])
        guard let seedText = args.value("--seed") else { throw UsageError("--seed is required") }
        let seed = try parseSeed(seedText)
        let shapes = try args.values("--shape").map(parseShape)
        guard !shapes.isEmpty else { throw UsageError("--shape is required") }
        let kernelName = args.value("--kernel") ?? "avx2"
        guard let kernel = TorchRandomSource.Kernel(rawValue: kernelName) else {
            throw UsageError("--kernel must be avx2 or scalar, got '\(kernelName)'")
        }
        var generator = TorchRandomSource(seed: seed, kernel: kernel)
        let draws = shapes.map { generator.normal(shape: $0).scalars }
        if let output = args.value("-o") ?? args.value("--output") {
            try writeFloat32(draws.flatMap { $0 }, to: URL(fileURLWithPath: output))
        } else {
            try writeJSON(draws.map { $0.map(Double.init) })
        }
    }
}
