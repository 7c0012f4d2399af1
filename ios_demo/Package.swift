// swift-tools-version:6.0
// The Swift side of mobilevid: a core that imports only Foundation (builds and tests on Linux), a thin
// Core ML backend compiled only where Core ML exists, and the `mobilevid-swift` command-line tool.
// The SwiftUI app lives in App/ (Apple platforms only) and uses this package as a local dependency.
import PackageDescription

let package = Package(
    name: "MobileVid",
    // The exporter targets iOS 18 / macOS 15 model programs (coremltools minimum_deployment_target=iOS18).
    platforms: [.iOS(.v18), .macOS(.v15)],
    products: [
        .library(name: "MobileVidCore", targets: ["MobileVidCore"]),
        .library(name: "MobileVidCoreML", targets: ["MobileVidCoreML"]),
        .executable(name: "mobilevid-swift", targets: ["mobilevid-swift"]),
    ],
    targets: [
        .target(name: "MobileVidCore"),
        // Every file is wrapped in `#if canImport(CoreML)`: on Linux this target compiles to an empty module.
        .target(name: "MobileVidCoreML", dependencies: ["MobileVidCore"]),
        .executableTarget(name: "mobilevid-swift", dependencies: ["MobileVidCore", "MobileVidCoreML"]),
        .testTarget(name: "MobileVidCoreTests", dependencies: ["MobileVidCore"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)
