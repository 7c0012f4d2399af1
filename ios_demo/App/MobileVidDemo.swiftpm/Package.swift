// swift-tools-version:6.0
// The iPhone demo app, as an app package Xcode (15 or later) and Swift Playgrounds open directly: open this
// folder, pick a device, Run. It uses the MobileVid package two folders up (MobileVidCore + MobileVidCoreML).
// Apple platforms only (SwiftUI, AVKit, Core ML); NOT built or run on the Linux machines that test the package.
import PackageDescription
#if canImport(AppleProductTypes)
import AppleProductTypes
#endif

let package = Package(
    name: "MobileVidDemo",
    platforms: [.iOS("18.0")],
    products: [
        #if canImport(AppleProductTypes)
        .iOSApplication(
            name: "MobileVid",
            targets: ["MobileVidDemo"],
            bundleIdentifier: "org.mobilevid.demo",
            displayVersion: "0.1",
            bundleVersion: "1",
            appIcon: .placeholder(icon: .movie),
            accentColor: .presetColor(.indigo),
            supportedDeviceFamilies: [.phone, .pad],
            supportedInterfaceOrientations: [.portrait, .landscapeLeft, .landscapeRight]
        ),
        #endif
    ],
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(
            name: "MobileVidDemo",
            dependencies: [.product(name: "MobileVidCore", package: "ios_demo"),
                           .product(name: "MobileVidCoreML", package: "ios_demo")],
            path: "Sources",
            resources: [.copy("Resources/Bundles")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
