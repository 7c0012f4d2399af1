// The app's state and the one place it calls the package. Every rule (sampler, noise, tokenizer, memory budget)
// is MobileVidCore's; this file only wires it to the UI. NOT built or run on the Linux machines that test the package.
import CoreML
import Foundation
import MobileVidCore
import MobileVidCoreML
import SwiftUI

/// A bundle the app can run: shipped inside the app, or imported from Files into the app's Documents.
struct BundleChoice: Identifiable, Hashable {
    let url: URL
    let shipped: Bool
    var id: URL { url }
    var name: String { url.lastPathComponent }
}

/// Set from the UI, read by the generation thread at every step.
final class CancelFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isCancelled: Bool { lock.withLock { value } }
    func cancel() { lock.withLock { value = true } }
}

@MainActor
final class AppModel: ObservableObject {
    @Published var bundles: [BundleChoice] = []
    @Published var selected: BundleChoice?
    @Published var prompt = "a red circle moves from left to right"
    @Published var seed: UInt64 = 0
    /// On by default on phones with little RAM (MemoryBudget.recommendsReduceMemory).
    @Published var reduceMemory = MemoryBudget.recommendsReduceMemory(physicalMemory: ProcessInfo.processInfo.physicalMemory)
    @Published var computeUnits: MLComputeUnits = .cpuAndNeuralEngine
    @Published var isGenerating = false
    @Published var progress: GenerationProgress?
    @Published var status = ""
    @Published var errorMessage: String?
    @Published var videoURL: URL?
    @Published var report: LatencyReport?
    /// The last generation's profile JSON, ready to share.
    @Published var profileURL: URL?

    private var cancelFlag = CancelFlag()

    init() { refreshBundles() }

    var documents: URL { FileManager.default.urls(for: .documentDirectory, in: .userDomainMask)[0] }
    var importedFolder: URL { documents.appendingPathComponent("Bundles", isDirectory: true) }

    func refreshBundles() {
        var found: [BundleChoice] = []
        let fm = FileManager.default
        if let shipped = Bundle.module.url(forResource: "Bundles", withExtension: nil) {
            found += folders(in: shipped).map { BundleChoice(url: $0, shipped: true) }
        }
        try? fm.createDirectory(at: importedFolder, withIntermediateDirectories: true)
        found += folders(in: importedFolder).map { BundleChoice(url: $0, shipped: false) }
        bundles = found
        if selected == nil || !found.contains(selected!) { selected = found.first }
    }

    private func folders(in parent: URL) -> [URL] {
        let items = (try? FileManager.default.contentsOfDirectory(at: parent, includingPropertiesForKeys: nil)) ?? []
        return items.filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent(BundleManifest.fileName).path) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// Copies a bundle folder picked in Files into the app (security-scoped access lasts only while picking).
    func importBundle(from url: URL) {
        let scoped = url.startAccessingSecurityScopedResource()
        defer { if scoped { url.stopAccessingSecurityScopedResource() } }
        do {
            _ = try BundleManifest.load(bundle: url)  // a bad bundle is refused before anything is copied
            let target = importedFolder.appendingPathComponent(url.lastPathComponent, isDirectory: true)
            guard !FileManager.default.fileExists(atPath: target.path) else {
                errorMessage = "a bundle named \(url.lastPathComponent) is already in the app; delete it first"
                return
            }
            try FileManager.default.copyItem(at: url, to: target)
            refreshBundles()
            selected = bundles.first { $0.url.lastPathComponent == url.lastPathComponent }
        } catch {
            errorMessage = "\(error)"
        }
    }

    func delete(_ choice: BundleChoice) {
        guard !choice.shipped else { return }
        try? FileManager.default.removeItem(at: choice.url)
        refreshBundles()
    }

    func cancel() {
        cancelFlag.cancel()
        status = "cancelling after this step…"
    }

    func generate() {
        guard let choice = selected else { errorMessage = "pick a bundle first (Bundles tab)"; return }
        let prompt = self.prompt, seed = self.seed, reduceMemory = self.reduceMemory, units = self.computeUnits
        let flag = CancelFlag()
        cancelFlag = flag
        isGenerating = true
        errorMessage = nil
        status = "loading models…"
        let output = documents.appendingPathComponent("video-\(Int(Date().timeIntervalSince1970)).mp4")
        Task.detached(priority: .userInitiated) {
            do {
                let manifest = try BundleManifest.load(bundle: choice.url)
                // Decide before loading anything whether the bundle fits this device.
                try MemoryBudget.check(manifest: manifest, availableBytes: CoreMLBackend.availableMemoryBytes(),
                                       reduceMemory: reduceMemory)
                let backend = try CoreMLBackend(manifest: manifest, computeUnits: units)
                let generator = VideoGenerator(manifest: manifest, tokenizer: try manifest.makeTokenizer(), runner: backend,
                                               reduceMemory: reduceMemory,
                                               device: CoreMLBackend.device(computeUnits: units))
                generator.memoryProbe = CoreMLBackend.physicalFootprintMB
                try generator.prewarm()
                let video = try generator.generate(prompt: prompt, seed: seed) { progress in
                    Task { @MainActor in
                        self.progress = progress
                        self.status = progress.stage == .denoising
                            ? "step \(progress.step) of \(progress.totalSteps)" : progress.stage.rawValue
                    }
                    return !flag.isCancelled
                }
                try VideoWriter.writeMP4(video.frames, fps: video.fps, to: output)
                let report = generator.report
                await MainActor.run {
                    self.videoURL = output
                    self.report = report
                    self.profileURL = self.writeProfile(report)
                    self.status = String(format: "done in %.1f s", video.seconds)
                    self.isGenerating = false
                    self.progress = nil
                }
            } catch {
                await MainActor.run {
                    self.status = ""
                    self.errorMessage = (error as? MobileVidError) == .cancelled ? "cancelled" : "\(error)"
                    self.isGenerating = false
                    self.progress = nil
                }
            }
        }
    }

    /// The profile JSON (mobilevid.profile v1) written to a file to share, for `mobilevid profile --device-json`.
    private func writeProfile(_ report: LatencyReport) -> URL? {
        let url = documents.appendingPathComponent("mobilevid-profile-\(Int(Date().timeIntervalSince1970)).json")
        do {
            try report.write(to: url, createdBy: "MobileVid app")
            return url
        } catch {
            errorMessage = "\(error)"
            return nil
        }
    }
}
