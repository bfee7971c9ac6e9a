// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "vyre-gl",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "VyreIR", targets: ["VyreIR"]),
        .library(name: "VyreGLSL", targets: ["VyreGLSL"]),
        .library(name: "VyreGL", targets: ["VyreGL"]),
        .library(name: "VyreProtocol", targets: ["VyreProtocol"]),
        .library(name: "VyreRuntime", targets: ["VyreRuntime"]),
        .library(name: "VyreTesting", targets: ["VyreTesting"]),
        .library(name: "VyreConformance", targets: ["VyreConformance"]),
        .executable(name: "vyre-gl", targets: ["vyre-gl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        // Only for `swift package generate-documentation` (the DocC catalog in VyreRuntime).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CEGL",
            pkgConfig: "egl",
            providers: [.apt(["libegl-dev", "libopengl-dev", "libgles-dev", "libegl-mesa0", "libgl1-mesa-dri"])]
        ),
        // liburing behind plain C types (liburing-dev), so no Swift module sees its kernel headers.
        .target(name: "CURing", linkerSettings: [.linkedLibrary("uring")]),
        .target(
            name: "VyreIR",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(name: "VyreGLSL", dependencies: ["VyreIR"], swiftSettings: strict),
        .target(
            name: "VyreGL",
            dependencies: [
                "CEGL", "VyreIR", "VyreGLSL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The ring protocol, batches and the megakernel builder: no GPU API.
        .target(name: "VyreProtocol", dependencies: ["VyreIR"], swiftSettings: strict),
        .target(
            name: "VyreRuntime",
            dependencies: ["VyreIR", "VyreGLSL", "VyreGL", "VyreProtocol", .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "Metrics", package: "swift-metrics")],
            swiftSettings: strict
        ),
        // Generators, models and curated cases for tests and selftest: no GPU API.
        .target(name: "VyreTesting", dependencies: ["VyreIR", "VyreProtocol"], swiftSettings: strict),
        // Runs the testing cases on a device.
        .target(
            name: "VyreConformance",
            dependencies: ["VyreIR", "VyreGLSL", "VyreGL", "VyreProtocol", "VyreRuntime", "VyreTesting"],
            swiftSettings: strict
        ),
        .target(name: "VyreStream", dependencies: ["CURing", "VyreIR", "VyreProtocol", "VyreGL", "VyreRuntime"], swiftSettings: strict),
        .executableTarget(
            name: "vyre-gl",
            dependencies: [
                "VyreIR", "VyreGLSL", "VyreGL", "VyreProtocol", "VyreRuntime", "VyreTesting", "VyreConformance", "VyreStream",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The IR, GLSL and protocol tests link no GPU library.
        .testTarget(name: "VyreIRTests", dependencies: ["VyreIR", "VyreTesting"], swiftSettings: strict),
        .testTarget(name: "VyreGLSLTests", dependencies: ["VyreIR", "VyreGLSL", "VyreTesting"], swiftSettings: strict),
        .testTarget(name: "VyreProtocolTests", dependencies: ["VyreIR", "VyreGLSL", "VyreProtocol", "VyreTesting"], swiftSettings: strict),
        .testTarget(name: "VyreGLTests", dependencies: ["VyreIR", "VyreGLSL", "VyreGL", "VyreTesting", "VyreConformance",
                                                        .product(name: "MetricsTestKit", package: "swift-metrics")], swiftSettings: strict),
        .testTarget(name: "VyreRuntimeTests", dependencies: ["VyreIR", "VyreGL", "VyreProtocol", "VyreRuntime", "VyreTesting", "VyreConformance",
                                                             .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "Metrics", package: "swift-metrics")], swiftSettings: strict),
        .testTarget(name: "VyreStreamTests", dependencies: ["VyreStream", "VyreConformance", "VyreIR", "VyreGLSL", "VyreGL", "VyreProtocol", "VyreRuntime", "VyreTesting"], swiftSettings: strict),
        .testTarget(name: "CLITests", dependencies: ["vyre-gl", "VyreTesting", "VyreProtocol"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
