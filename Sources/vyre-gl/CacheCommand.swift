import ArgumentParser
import VyreGL
import VyreIR

/// `vyre-gl cache stats|clear`: the program binary cache on disk.
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Show or clear the program binary cache (linked GL programs kept between runs).",
        discussion: """
            The cache lives in VYRE_GL_CACHE_DIR, else $XDG_CACHE_HOME/vyre-gl, else ~/.cache/vyre-gl. \
            Entries are keyed by the program's GLSL and the driver's vendor, renderer and GL version, \
            so a new driver or vyre-gl version compiles again; a damaged file is recompiled and replaced.
            """,
        subcommands: [Stats.self, Clear.self])

    struct Report: Encodable {
        var directory: String?
        var files: Int
        var bytes: Int
        var maxBytes: Int
        var removed: Int?
        /// Why the directory cannot hold entries, or nil.
        var problem: Diagnostic?

        enum CodingKeys: String, CodingKey { case directory, files, bytes, maxBytes, removed, usable, problem }

        /// `directory` is always there (null when no directory is set); `removed` only after `clear`.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(directory, forKey: .directory)
            try c.encode(files, forKey: .files)
            try c.encode(bytes, forKey: .bytes)
            try c.encode(maxBytes, forKey: .maxBytes)
            try c.encodeIfPresent(removed, forKey: .removed)
            try c.encode(directory != nil && problem == nil, forKey: .usable)
            try c.encodeIfPresent(problem.map { $0.description }, forKey: .problem)
        }
    }

    static func report(_ cache: ProgramBinaryCache, removed: Int?, json: Bool) throws {
        let s = cache.statistics()
        let report = Report(directory: s.directory, files: s.files, bytes: s.bytes, maxBytes: s.maxBytes, removed: removed, problem: cache.directoryProblem())
        if json { return try Output.json(report) }
        if let removed { try Output.line("removed \(removed) cached program binar\(removed == 1 ? "y" : "ies")") }
        try Output.line("directory: \(s.directory ?? "none (set VYRE_GL_CACHE_DIR, XDG_CACHE_HOME or HOME)")")
        try Output.line("entries:   \(s.files), \(s.bytes) bytes of at most \(s.maxBytes)")
        if let problem = report.problem { try Output.line("unusable:  \(problem)") }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the cache's directory, entries and size.")
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            runReporting { try CacheCommand.report(.shared, removed: nil, json: json) }
        }
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every cached program binary (other files in the directory stay).")
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            runReporting {
                let removed: Int
                do throws(ProgramBinaryCache.CacheError) { removed = try ProgramBinaryCache.shared.clear() } catch {
                    throw CLIFailure(status: .ranWithFailures, diagnostics: [Diagnostic(error.problem, fix: error.fix)])
                }
                try CacheCommand.report(.shared, removed: removed, json: json)
            }
        }
    }
}
