import Foundation
import Testing

/// The modules' import rules (docs/architecture.md), read from the sources: a lower layer never
/// imports a higher one, and the GL-free modules import no GPU library, so their tests build and
/// run on a machine without EGL.
struct LayeringTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources")

    /// The vyre-gl modules each module may import (system and package modules are not limited here).
    static let allowed: [String: Set<String>] = [
        "VyreIR": [],
        "VyreGLSL": ["VyreIR"],
        "VyreProtocol": ["VyreIR"],
        "VyreTesting": ["VyreIR", "VyreProtocol"],
        "VyreGL": ["CEGL", "VyreIR", "VyreGLSL"],
        "VyreRuntime": ["VyreIR", "VyreGLSL", "VyreGL", "VyreProtocol"],
        "VyreConformance": ["VyreIR", "VyreGLSL", "VyreGL", "VyreProtocol", "VyreRuntime", "VyreTesting"],
        "VyreStream": ["CURing"],
    ]
    static let ours: Set<String> = ["CEGL", "CURing", "VyreIR", "VyreGLSL", "VyreGL", "VyreProtocol", "VyreRuntime", "VyreTesting", "VyreConformance", "VyreStream"]

    static func imports(of module: String) throws -> [String: Set<String>] {
        let dir = sources.appendingPathComponent(module)
        var found: [String: Set<String>] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                guard let i = words.firstIndex(of: "import"), i + 1 < words.count,
                      words[..<i].allSatisfy({ ["public", "package", "internal", "@preconcurrency", "@testable"].contains($0) }) else { continue }
                found[file, default: []].insert(words[i + 1])
            }
        }
        return found
    }

    @Test(arguments: allowed.keys.sorted())
    func modulesImportOnlyLowerLayers(_ module: String) throws {
        let files = try Self.imports(of: module)
        #expect(!files.isEmpty, "no sources found for \(module)")
        for (file, modules) in files {
            let forbidden = modules.intersection(Self.ours).subtracting(Self.allowed[module]!)
            #expect(forbidden.isEmpty, "\(module)/\(file) imports \(forbidden.sorted()), which \(module) may not use")
        }
    }
}
