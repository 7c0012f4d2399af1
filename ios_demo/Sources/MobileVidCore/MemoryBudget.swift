// Python twin: none (a device-side decision). The numbers come from the manifest's component sizes
// (mobilevid/export/manifest.py diagnostics.components[*].bytes).
import Foundation

/// Whether a bundle fits a device, and whether to run it in reduce-memory mode.
///
/// Users' top complaint about on-device diffusion is the app being killed for memory (ml-stable-diffusion
/// #298, swift-coreml-diffusers #72/#88), so the app decides before loading anything: all three models
/// resident need the sum of their sizes, reduce-memory mode only the largest, each with room for
/// activations and the runtime.
public enum MemoryBudget {
    /// Phones with this much RAM or less run in reduce-memory mode by default (6 GB: iPhone 12-14 class).
    public static let reduceMemoryAtOrBelowBytes: UInt64 = 6 * 1024 * 1024 * 1024
    /// Weights are multiplied by this for activations and runtime buffers.
    public static let workingSetFactor = 1.5
    /// Fixed overhead of the app, the runtime and the frames.
    public static let overheadBytes = 150 * 1024 * 1024

    /// The default for `VideoGenerator.reduceMemory` on a device with `physicalMemory` bytes.
    public static func recommendsReduceMemory(physicalMemory: UInt64) -> Bool {
        physicalMemory <= reduceMemoryAtOrBelowBytes
    }

    /// Bytes a generation needs with or without reduce-memory mode.
    public static func requiredBytes(componentBytes: [Int], reduceMemory: Bool) -> Int {
        let weights = reduceMemory ? (componentBytes.max() ?? 0) : componentBytes.reduce(0, +)
        return Int(Double(weights) * workingSetFactor) + overheadBytes
    }

    /// Throws `.doesNotFit` with a message saying what would fit, when `available` bytes are not enough.
    public static func check(manifest: BundleManifest, availableBytes: Int, reduceMemory: Bool) throws {
        let sizes = manifest.diagnostics.components?.values.map(\.bytes) ?? []
        let needed = requiredBytes(componentBytes: sizes, reduceMemory: reduceMemory)
        guard needed > availableBytes else { return }
        let mb = { (bytes: Int) in String(format: "%.0f MB", Double(bytes) / 1_048_576) }
        var message = "this bundle needs about \(mb(needed)) but the app can use \(mb(availableBytes))"
        if !reduceMemory, requiredBytes(componentBytes: sizes, reduceMemory: true) <= availableBytes {
            message += "; turn on reduce-memory mode (one model in memory at a time)"
        } else {
            message += "; export a smaller bundle (mobilevid export --quantize int8, int4 or palettize4)"
        }
        throw MobileVidError.doesNotFit(message)
    }
}
