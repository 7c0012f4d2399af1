// The bundles shipped in the app and those imported from Files (a folder picked with the document picker).
// NOT built or run on the Linux machines that test the package.
import MobileVidCore
import SwiftUI
import UniformTypeIdentifiers

struct BundlesView: View {
    @EnvironmentObject var model: AppModel
    @State private var picking = false

    var body: some View {
        NavigationStack {
            List {
                ForEach(model.bundles) { choice in
                    Button {
                        model.selected = choice
                    } label: {
                        HStack {
                            VStack(alignment: .leading) {
                                Text(choice.name)
                                Text(choice.shipped ? "shipped in the app" : "imported").font(.caption).foregroundStyle(.secondary)
                            }
                            Spacer()
                            if model.selected == choice { Image(systemName: "checkmark") }
                        }
                    }
                    .swipeActions {
                        if !choice.shipped { Button("Delete", role: .destructive) { model.delete(choice) } }
                    }
                }
                if model.bundles.isEmpty {
                    Text("No bundle yet. Export one with `mobilevid export --target coreml -o NAME`, copy the folder to "
                         + "the iPhone (Files), then Add from Files.")
                }
                if let error = model.errorMessage { Text(error).foregroundStyle(.red) }
            }
            .navigationTitle("Bundles")
            .toolbar { Button("Add from Files") { picking = true } }
            .fileImporter(isPresented: $picking, allowedContentTypes: [.folder]) { result in
                if case let .success(url) = result { model.importBundle(from: url) }
            }
        }
    }
}
