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
        .library(name: "VyreRuntime", targets: ["VyreRuntime"]),
        .library(name: "VyreConformance", targets: ["VyreConformance"]),
        .executable(name: "vyre-gl", targets: ["vyre-gl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CEGL",
            pkgConfig: "egl",
            providers: [.apt(["libegl-dev", "libopengl-dev", "libgles-dev", "libegl-mesa0", "libgl1-mesa-dri"])]
        ),
        .systemLibrary(
            name: "CURing",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
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
            ],
            swiftSettings: strict
        ),
        .target(
            name: "VyreConformance",
            dependencies: ["VyreIR", "VyreGLSL", "VyreGL", "VyreRuntime"],
            swiftSettings: strict
        ),
        .target(
            name: "VyreRuntime",
            dependencies: ["VyreIR", "VyreGLSL", "VyreGL", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(name: "VyreStream", dependencies: ["CURing"], swiftSettings: strict),
        .executableTarget(
            name: "vyre-gl",
            dependencies: [
                "VyreIR", "VyreGLSL", "VyreGL", "VyreConformance", "VyreRuntime", "VyreStream",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "VyreIRTests", dependencies: ["VyreIR", "VyreConformance"], swiftSettings: strict),
        .testTarget(name: "VyreGLSLTests", dependencies: ["VyreIR", "VyreGLSL", "VyreConformance"], swiftSettings: strict),
        .testTarget(name: "VyreGLTests", dependencies: ["VyreIR", "VyreGLSL", "VyreGL", "VyreConformance"], swiftSettings: strict),
        .testTarget(name: "VyreRuntimeTests", dependencies: ["VyreIR", "VyreGL", "VyreRuntime", "VyreConformance"], swiftSettings: strict),
        .testTarget(name: "CLITests", dependencies: ["vyre-gl", "VyreConformance"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
