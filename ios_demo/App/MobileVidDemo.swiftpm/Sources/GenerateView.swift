// Prompt, seed, Generate with per-step progress and Cancel, the video played back and shareable.
// NOT built or run on the Linux machines that test the package.
import AVKit
import MobileVidCore
import SwiftUI

struct GenerateView: View {
    @EnvironmentObject var model: AppModel
    @State private var seedText = "0"
    @State private var player: AVPlayer?

    var body: some View {
        NavigationStack {
            Form {
                Section("Prompt") {
                    TextField("describe the video", text: $model.prompt, axis: .vertical)
                        .lineLimit(2...4)
                    HStack {
                        Text("Seed")
                        TextField("0", text: $seedText)
                            .keyboardType(.numberPad)
                            .multilineTextAlignment(.trailing)
                            .onChange(of: seedText) { _, text in
                                if let value = UInt64(text), value <= Sampling.seedMax { model.seed = value }
                            }
                    }
                    Toggle("Reduce memory (one model at a time)", isOn: $model.reduceMemory)
                }
                Section {
                    if model.isGenerating {
                        ProgressView(value: model.progress?.fractionDone ?? 0) { Text(model.status) }
                        Button("Cancel", role: .destructive) { model.cancel() }
                    } else {
                        Button("Generate") { model.generate() }
                            .disabled(model.selected == nil || model.prompt.trimmingCharacters(in: .whitespaces).isEmpty)
                        if !model.status.isEmpty { Text(model.status).foregroundStyle(.secondary) }
                    }
                    if let error = model.errorMessage {
                        Text(error).foregroundStyle(.red)
                    }
                } footer: {
                    Text(model.selected.map { "bundle: \($0.name)" } ?? "no bundle: add one in the Bundles tab")
                }
                if let url = model.videoURL {
                    Section("Video") {
                        VideoPlayer(player: player)
                            .aspectRatio(1, contentMode: .fit)
                        ShareLink(item: url) { Label("Share video", systemImage: "square.and.arrow.up") }
                    }
                }
            }
            .navigationTitle("MobileVid")
            .onChange(of: model.videoURL) { _, url in
                player = url.map { AVPlayer(url: $0) }
                player?.play()
            }
        }
    }
}
