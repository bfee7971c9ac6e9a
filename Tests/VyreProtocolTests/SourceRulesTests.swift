import Foundation
import Testing

/// Rules read from the sources. The modules' import rules (docs/architecture.md): a lower layer
/// never imports a higher one, and the GL-free modules import no GPU library, so their tests build
/// and run on a machine without EGL. And functions in the runtime, the stream module and the CLI stay short enough to
/// follow.
struct SourceRulesTests {
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
        "VyreStream": ["CURing", "VyreIR", "VyreProtocol", "VyreGL", "VyreRuntime"],
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

    /// The longest a function in these modules may be, in lines from its signature to its brace.
    static let maxFunctionLines = 80

    @Test(arguments: ["VyreRuntime", "VyreProtocol", "VyreStream", "vyre-gl"])
    func functionsStayShort(_ module: String) throws {
        let dir = Self.sources.appendingPathComponent(module)
        let signature = /^\s*(?:(?:public|package|private|fileprivate|internal|static|mutating|override|@\w+)\s+)*(?:func|init)\b.*\{\s*$/
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) where file.hasSuffix(".swift") {
            let lines = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (start, line) in lines.enumerated() where line.wholeMatch(of: signature) != nil {
                // Braces in strings and comments are rare here and balanced where they occur.
                var depth = 0
                var end = start
                for (i, l) in lines[start...].enumerated() {
                    depth += l.filter { $0 == "{" }.count - l.filter { $0 == "}" }.count
                    end = start + i
                    if depth <= 0 { break }
                }
                let length = end - start + 1
                #expect(length <= Self.maxFunctionLines, "\(module)/\(file):\(start + 1) is \(length) lines: \(line.trimmingCharacters(in: .whitespaces).prefix(60))")
            }
        }
    }
}
