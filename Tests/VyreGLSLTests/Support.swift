import Foundation

/// Paths and tools shared by the GLSL tests.
enum Repo {
    /// The package root, found from this file's location (Tests/VyreGLSLTests/Support.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let examples = root.appendingPathComponent("examples/programs")
    static let golden = root.appendingPathComponent("glsl/golden")

    static func exampleProgramNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }
}

/// Runs glslangValidator on GLSL files; nil output means it passed.
enum Glslang {
    static let executable: String? = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(dir)/glslangValidator"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }()

    /// Validates each file as a compute shader; returns the failures' output.
    static func validate(_ files: [URL]) throws -> [String] {
        guard let exe = executable else { return ["glslangValidator not found: run tools/setup (package glslang-tools)"] }
        var failures: [String] = []
        // One process per file: glslangValidator stops reporting after the first failing file.
        for file in files {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["-S", "comp", file.path]
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            try p.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            if p.terminationStatus != 0 { failures.append("\(file.lastPathComponent):\n\(output)") }
        }
        return failures
    }
}
