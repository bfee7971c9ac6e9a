// swift-tools-version: 6.0
import PackageDescription

// An example HTTP service on vyre-gl: its own package, so the library's build never pays for
// Hummingbird and swift-prometheus.
let package = Package(
    name: "vyre-gl-server",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "vyre-gl", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .executableTarget(
            name: "vyre-gl-server",
            dependencies: [
                .product(name: "VyreIR", package: "vyre-gl"),
                .product(name: "VyreGL", package: "vyre-gl"),
                .product(name: "VyreProtocol", package: "vyre-gl"),
                .product(name: "VyreRuntime", package: "vyre-gl"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/VyreGLServer",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .testTarget(name: "VyreGLServerTests", dependencies: ["vyre-gl-server"], path: "Tests/VyreGLServerTests"),
    ],
    swiftLanguageModes: [.v6]
)
