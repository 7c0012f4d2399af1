// The app's entry point. Apple platforms only; NOT built or run on the Linux machines that test the package.
import SwiftUI

@main
struct MobileVidDemoApp: App {
    @StateObject private var model = AppModel()

    var body: some Scene {
        WindowGroup {
            TabView {
                GenerateView().tabItem { Label("Generate", systemImage: "film") }
                ProfileView().tabItem { Label("Profile", systemImage: "speedometer") }
                BundlesView().tabItem { Label("Bundles", systemImage: "shippingbox") }
            }
            .environmentObject(model)
        }
    }
}
