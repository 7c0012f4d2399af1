// Python twin: mobilevid/export/coreml_target.py coreml_runner (one Core ML model, or its chunks run in order,
// per component). Apple systems only: every line is inside `#if canImport(CoreML)`, so on Linux this target
// compiles to an empty module. NOT compiled or run on the Linux machines that test this package.
#if canImport(CoreML)
import CoreML
import Foundation
import MobileVidCore
#if os(iOS)
import os
#endif

/// Runs a Core ML bundle's three components. Thin on purpose: what to run, in which order, with which noise
/// and when to free a model is decided by `VideoGenerator` in MobileVidCore; this class loads models, converts
/// tensors and calls `prediction`.
public final class CoreMLBackend: ComponentRunner {
    public let manifest: BundleManifest
    public let configuration: MLModelConfiguration
    private let cache: CompiledModelCache
    /// Loaded models per component: one, or a split model's chunks in order.
    private var loaded: [Component: [MLModel]] = [:]

    /// - Parameters:
    ///   - computeUnits: `.cpuAndNeuralEngine` by default (the Neural Engine is what the bundle was shaped for).
    ///   - cacheFolder: where compiled `.mlmodelc` folders are kept between launches.
    public init(manifest: BundleManifest, computeUnits: MLComputeUnits = .cpuAndNeuralEngine,
                cacheFolder: URL? = nil) throws {
        guard manifest.target == "coreml" else {
            throw MobileVidError.invalidArgument("this is a \(manifest.target) bundle; the app runs Core ML bundles "
                                                 + "(mobilevid export --target coreml)")
        }
        self.manifest = manifest
        configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits
        cache = try CompiledModelCache(folder: cacheFolder)
    }

    public static func computeUnits(named name: String) throws -> MLComputeUnits {
        switch name {
        case "all": return .all
        case "cpuOnly": return .cpuOnly
        case "cpuAndGPU": return .cpuAndGPU
        case "cpuAndNeuralEngine": return .cpuAndNeuralEngine
        default:
            throw MobileVidError.invalidArgument("compute units must be all, cpuOnly, cpuAndGPU or cpuAndNeuralEngine, got \(name)")
        }
    }

    public static func name(of units: MLComputeUnits) -> String {
        switch units {
        case .all: return "all"
        case .cpuOnly: return "cpuOnly"
        case .cpuAndGPU: return "cpuAndGPU"
        case .cpuAndNeuralEngine: return "cpuAndNeuralEngine"
        @unknown default: return "unknown"
        }
    }

    // MARK: ComponentRunner

    public func load(_ component: Component) throws {
        guard loaded[component] == nil else { return }
        guard let spec = manifest.components[component.rawValue] else {
            throw MobileVidError.invalidArgument("the bundle has no \(component.rawValue)")
        }
        loaded[component] = try spec.files.map { file in
            let compiled = try cache.compiledModel(for: try manifest.resolve(file), key: cacheKey(file))
            return try MLModel(contentsOf: compiled, configuration: configuration)
        }
    }

    public func release(_ component: Component) {
        loaded[component] = nil
    }

    public func encodeText(ids: [Int32], attentionMask: [Int32]) throws -> TextConditioning {
        let spec = try specification(.textEncoder)
        let length = ids.count
        let outputs = try predict(.textEncoder, [
            spec.inputs[0].name: MLMultiArray(MLShapedArray<Int32>(scalars: ids, shape: [1, length])),
            spec.inputs[1].name: MLMultiArray(MLShapedArray<Int32>(scalars: attentionMask, shape: [1, length])),
        ])
        return TextConditioning(states: try tensor(outputs, spec.outputs[0].name),
                                mask: Tensor(shape: [1, length], scalars: attentionMask.map(Float.init)),
                                pooled: try tensor(outputs, spec.outputs[1].name))
    }

    public func denoise(sample: Tensor, timestep: Float, text: TextConditioning) throws -> Tensor {
        let spec = try specification(.denoiser)
        let values = [sample, Tensor(shape: [1], scalars: [timestep]), text.states, text.mask, text.pooled]
        var inputs: [String: MLMultiArray] = [:]
        for (input, value) in zip(spec.inputs, values) { inputs[input.name] = try multiArray(value, spec: input) }
        return try tensor(try predict(.denoiser, inputs), spec.outputs[0].name)
    }

    public func decode(latents: Tensor) throws -> Tensor {
        let spec = try specification(.vaeDecoder)
        let outputs = try predict(.vaeDecoder, [spec.inputs[0].name: try multiArray(latents, spec: spec.inputs[0])])
        return try tensor(outputs, spec.outputs[0].name)
    }

    // MARK: Running

    private func specification(_ component: Component) throws -> BundleManifest.ComponentSpec {
        guard let spec = manifest.components[component.rawValue] else {
            throw MobileVidError.invalidArgument("the bundle has no \(component.rawValue)")
        }
        return spec
    }

    /// Runs the component's models in order: the first takes the inputs, each later chunk reads what it needs
    /// from the inputs and the earlier chunks' outputs, as the exporter checked (coreml_target inspect_coreml).
    private func predict(_ component: Component, _ inputs: [String: MLMultiArray]) throws -> [String: MLMultiArray] {
        try load(component)
        var available = inputs
        for model in loaded[component] ?? [] {
            let needed = model.modelDescription.inputDescriptionsByName.keys
            var features: [String: MLFeatureValue] = [:]
            for name in needed {
                guard let value = available[name] else {
                    throw MobileVidError.invalidArgument("\(component.rawValue): a chunk needs '\(name)', which no earlier step gives")
                }
                features[name] = MLFeatureValue(multiArray: value)
            }
            let result = try model.prediction(from: try MLDictionaryFeatureProvider(dictionary: features))
            for name in result.featureNames {
                if let array = result.featureValue(for: name)?.multiArrayValue { available[name] = array }
            }
        }
        return available
    }

    private func multiArray(_ value: Tensor, spec: BundleManifest.TensorSpec) throws -> MLMultiArray {
        guard value.shape == spec.shape else {
            throw MobileVidError.wrongShape(what: "input \(spec.name)", expected: spec.shape, got: value.shape)
        }
        return MLMultiArray(MLShapedArray<Float>(scalars: value.scalars, shape: value.shape))
    }

    /// A Core ML output as a row-major float32 tensor (MLShapedArray converts strides and float16).
    private func tensor(_ outputs: [String: MLMultiArray], _ name: String) throws -> Tensor {
        guard let array = outputs[name] else {
            throw MobileVidError.invalidArgument("the model gave no output named '\(name)'")
        }
        let shaped = MLShapedArray<Float>(converting: array)
        return Tensor(shape: shaped.shape, scalars: shaped.scalars)
    }

    private func cacheKey(_ file: String) -> String {
        let source = manifest.provenance.sourceModel.sha256 ?? "unhashed"
        return "\(source.prefix(16))-\(manifest.quantize)-\(file)"
    }

    // MARK: The device, for the latency report

    /// The machine identifier (e.g. "iPhone16,1"), OS and compute units, for `LatencyReport`.
    public static func device(computeUnits: MLComputeUnits) -> LatencyReport.Device {
        var system = utsname()
        uname(&system)
        let machine = withUnsafeBytes(of: &system.machine) { buffer in
            String(decoding: buffer.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return .current(name: machine, computeUnits: name(of: computeUnits))
    }

    /// The process's physical footprint in MB (what iOS's memory limit counts), from `task_vm_info`.
    public static func physicalFootprintMB() -> Double? {
        var info = task_vm_info_data_t()
        var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<natural_t>.size)
        let status = withUnsafeMutablePointer(to: &info) { pointer in
            pointer.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count)
            }
        }
        return status == KERN_SUCCESS ? Double(info.phys_footprint) / 1_048_576 : nil
    }

    /// Bytes the app may still allocate before iOS stops it (`os_proc_available_memory`); on macOS, the RAM.
    public static func availableMemoryBytes() -> Int {
        #if os(iOS)
        return Int(os_proc_available_memory())
        #else
        return Int(ProcessInfo.processInfo.physicalMemory)
        #endif
    }
}
#endif
