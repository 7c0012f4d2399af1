// Python twin: none (Core ML compiles a .mlpackage on the device). ml-stable-diffusion's users waited minutes
// for the first load (#292: 273 s for a UNet); compiling once and keeping the .mlmodelc avoids paying it twice.
// Apple systems only; NOT compiled or run on the Linux machines that test this package.
#if canImport(CoreML)
import CoreML
import Foundation
import MobileVidCore

/// Compiles each `.mlpackage` once and keeps the `.mlmodelc` in Application Support, keyed by the bundle's
/// source-model hash, quantization and file name.
final class CompiledModelCache {
    let folder: URL

    init(folder: URL?) throws {
        if let folder {
            self.folder = folder
        } else {
            let support = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                                      appropriateFor: nil, create: true)
            self.folder = support.appendingPathComponent("MobileVid/CompiledModels", isDirectory: true)
        }
        try FileManager.default.createDirectory(at: self.folder, withIntermediateDirectories: true)
    }

    /// The compiled model for `package` (an `.mlpackage` or an already compiled `.mlmodelc`).
    func compiledModel(for package: URL, key: String) throws -> URL {
        if package.pathExtension == "mlmodelc" { return package }
        let safeKey = key.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" }
        let target = folder.appendingPathComponent(String(safeKey) + ".mlmodelc", isDirectory: true)
        if FileManager.default.fileExists(atPath: target.path) { return target }
        let compiled = try MLModel.compileModel(at: package)  // a temporary folder the system may delete
        let staging = folder.appendingPathComponent(".\(UUID().uuidString).mlmodelc", isDirectory: true)
        try FileManager.default.moveItem(at: compiled, to: staging)
        if FileManager.default.fileExists(atPath: target.path) {
            try? FileManager.default.removeItem(at: staging)  // compiled meanwhile by another load
        } else {
            try FileManager.default.moveItem(at: staging, to: target)  // a rename: the cache never holds half a model
        }
        return target
    }

    /// Frees the disk space of every compiled model (the app's "Clear compiled models").
    func clear() throws {
        for item in try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil) {
            try FileManager.default.removeItem(at: item)
        }
    }
}
#endif
