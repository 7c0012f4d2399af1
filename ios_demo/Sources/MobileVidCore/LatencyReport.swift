// Python twin: mobilevid/export/device_json.py (schema mobilevid.profile v1: what `mobilevid profile
// --device-json` imports), timing.py summarize_ms (median and p90), video_total.py (the total per video).
import Foundation

/// Per-component timings measured on a device, written as the JSON `mobilevid profile --device-json` reads.
public struct LatencyReport: Sendable {
    public static let schema = "mobilevid.profile"
    public static let schemaVersion = 1
    public static let components = ["text_encoder", "denoiser", "vae_decoder"]

    public struct Device: Codable, Equatable, Sendable {
        public var name: String
        public var platform: String
        public var processor: String
        public var cpus: Int
        public var physicalMemoryMB: Double
        public var computeUnits: String

        public init(name: String, platform: String, processor: String, cpus: Int, physicalMemoryMB: Double,
                    computeUnits: String) {
            self.name = name
            self.platform = platform
            self.processor = processor
            self.cpus = cpus
            self.physicalMemoryMB = physicalMemoryMB
            self.computeUnits = computeUnits
        }

        /// This process's machine, as Foundation sees it (the app puts the phone's model name in `name`).
        public static func current(name: String? = nil, computeUnits: String) -> Device {
            let info = ProcessInfo.processInfo
            #if arch(arm64)
            let processor = "arm64"
            #elseif arch(x86_64)
            let processor = "x86_64"
            #else
            let processor = "unknown"
            #endif
            return Device(name: name ?? info.hostName, platform: info.operatingSystemVersionString,
                          processor: processor, cpus: info.activeProcessorCount,
                          physicalMemoryMB: Double(info.physicalMemory) / 1_048_576, computeUnits: computeUnits)
        }

        enum CodingKeys: String, CodingKey {
            case name, platform, processor, cpus
            case physicalMemoryMB = "physical_memory_mb"
            case computeUnits = "compute_units"
        }
    }

    /// What was measured for one component.
    public struct Measurement: Sendable {
        public var milliseconds: [Double] = []
        public var loadMilliseconds: [Double] = []
        public var peakMemoryMB: Double?
        public var bytes: Int?
    }

    public var device: Device
    public var bundle: String
    public var target: String
    public var quantize: String?
    public var runtime: String
    public var steps: Int
    public var guidanceScale: Double
    public var memoryMethod: String
    public var measurements: [String: Measurement] = [:]

    public init(device: Device, bundle: String, target: String = "coreml", quantize: String? = nil,
                runtime: String = "coreml", steps: Int, guidanceScale: Double,
                memoryMethod: String = "phys_footprint high-water mark (task_vm_info) while the component ran") {
        self.device = device
        self.bundle = bundle
        self.target = target
        self.quantize = quantize
        self.runtime = runtime
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.memoryMethod = memoryMethod
    }

    /// Record one call of `component` that took `milliseconds`.
    public mutating func record(_ component: String, milliseconds: Double) {
        measurements[component, default: Measurement()].milliseconds.append(milliseconds)
    }

    /// Record loading (and, the first time, compiling) `component`.
    public mutating func recordLoad(_ component: String, milliseconds: Double) {
        measurements[component, default: Measurement()].loadMilliseconds.append(milliseconds)
    }

    /// Keep the highest memory seen while `component` ran.
    public mutating func recordPeakMemory(_ component: String, megabytes: Double) {
        let old = measurements[component]?.peakMemoryMB ?? 0
        measurements[component, default: Measurement()].peakMemoryMB = max(old, megabytes)
    }

    public mutating func recordSize(_ component: String, bytes: Int) {
        measurements[component, default: Measurement()].bytes = bytes
    }

    /// numpy's `median`.
    public static func median(_ values: [Double]) -> Double { percentile(values, 50) }

    /// numpy's `percentile` with its default linear interpolation.
    public static func percentile(_ values: [Double], _ q: Double) -> Double {
        precondition(!values.isEmpty, "no values")
        let sorted = values.sorted()
        let position = Double(sorted.count - 1) * q / 100
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    static func rounded4(_ value: Double) -> Double { (value * 10_000).rounded() / 10_000 }

    /// Denoiser calls per step: 2 under classifier-free guidance (`Sampling.callsPerStep`).
    public var callsPerStep: Int { Sampling.callsPerStep(guidance: Float(guidanceScale)) }

    /// The `mobilevid.profile` v1 object (components without a timed call are left out).
    public func jsonObject(createdBy: String = "mobilevid-swift") -> [String: Any] {
        let calls = ["text_encoder": 1, "denoiser": steps * callsPerStep, "vae_decoder": 1]
        var components = [String: Any]()
        var medians = [String: Double]()
        for name in Self.components {
            guard let m = measurements[name], !m.milliseconds.isEmpty else { continue }
            let median = Self.rounded4(Self.median(m.milliseconds))
            medians[name] = median
            var entry: [String: Any] = [
                "median_ms": median,
                "p90_ms": Self.rounded4(Self.percentile(m.milliseconds, 90)),
                "min_ms": Self.rounded4(m.milliseconds.min()!),
                "calls": m.milliseconds.count,
                "calls_per_video": calls[name]!,
            ]
            if !m.loadMilliseconds.isEmpty { entry["load_ms"] = Self.rounded4(Self.median(m.loadMilliseconds)) }
            if let peak = m.peakMemoryMB { entry["peak_rss_mb"] = Self.rounded4(peak) }
            if let bytes = m.bytes { entry["bytes"] = bytes }
            components[name] = entry
        }
        var video: [String: Any] = [
            "steps": steps, "guidance_scale": guidanceScale, "calls_per_step": callsPerStep,
            "denoiser_calls": steps * callsPerStep,
            "formula": "text_encoder + \(steps) steps x \(callsPerStep) x denoiser + vae_decoder",
        ]
        if let te = medians["text_encoder"], let den = medians["denoiser"], let dec = medians["vae_decoder"] {
            video["total_ms"] = Self.rounded4(te + Double(steps * callsPerStep) * den + dec)
        } else {
            video["total_ms"] = NSNull()
        }
        let device: [String: Any] = [
            "name": self.device.name, "platform": self.device.platform, "processor": self.device.processor,
            "cpus": self.device.cpus, "physical_memory_mb": Self.rounded4(self.device.physicalMemoryMB),
            "compute_units": self.device.computeUnits,
        ]
        return [
            "schema": Self.schema, "schema_version": Self.schemaVersion, "created_by": createdBy,
            "device": device, "bundle": bundle, "target": target, "quantize": quantize ?? NSNull(),
            "runtime": runtime, "compute_units": self.device.computeUnits,
            "runs": measurements["denoiser"]?.milliseconds.count ?? 0, "warmup": 0, "threads": NSNull(),
            "components": components, "memory_method": memoryMethod, "video": video,
        ]
    }

    public func jsonData(createdBy: String = "mobilevid-swift") throws -> Data {
        try JSONSerialization.data(withJSONObject: jsonObject(createdBy: createdBy),
                                   options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// Write the report to `url`, atomically (a half-written profile is never left behind).
    public func write(to url: URL, createdBy: String = "mobilevid-swift") throws {
        guard !measurements.values.allSatisfy({ $0.milliseconds.isEmpty }) else {
            throw MobileVidError.invalidArgument("no component was timed: nothing to write to \(url.path)")
        }
        try jsonData(createdBy: createdBy).write(to: url, options: .atomic)
    }
}
