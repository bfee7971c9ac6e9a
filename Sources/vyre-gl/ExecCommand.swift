import ArgumentParser
import Foundation
import VyreGL
import VyreIR
import VyreTesting

struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run any program on the GPU and print (or write) its output buffers.",
        discussion: """
            Buffers: --buffer NAME=[1,2,3] (a JSON array, typed by the buffer; floats also take "nan", "inf", "-inf"), \
            NAME=@FILE (a .json array, or raw little-endian bytes), or NAME=zeros:N (N zero elements, cleared on the \
            device). Buffers with a fixed count that are not given start zeroed; runtime-sized buffers must be given. \
            Only what is printed or written is read back: the first 32 elements of each output buffer, every element \
            with --all, --json or --output-dir.
            """)

    @Argument(help: "The program: JSON, or wire bytes (.vyir).") var program: String
    @Option(help: "Workgroups to dispatch: X[,Y[,Z]], each at least 1 (default 1, or the --inputs file's grid).") var groups: String?
    @Option(name: .customLong("buffer"), help: "NAME=[...] | NAME=@FILE | NAME=zeros:N (repeatable, once per buffer).") var buffers: [String] = []
    @Option(help: "Iterations each forever loop may run (default \(DispatchOptions.defaultForeverBudget), or the --inputs file's; keep it well below the device's loop limit, see 'vyre-gl info').") var budget: UInt32?
    @Option(name: .customLong("param"), help: "NAME=VALUE: a parameter the program reads (u32, decimal; repeatable).") var params: [String] = []
    @Option(help: "Grid, budget, buffers and parameters from a file written by 'selftest --dump-failures' (NAME.inputs.json); --groups, --budget, --buffer and --param given beside it replace the file's.") var inputs: String?
    @Option(help: "Seconds the dispatch may run (more than 0, at most 86400); past it a program that loops is stopped (exit 1); one without loops runs its grid to the end.") var timeout: Seconds = Seconds(60)
    @Option(name: .customLong("output-dir"), help: "Also write each output buffer as DIR/NAME.bin (raw little-endian).") var outputDir: String?
    @Flag(help: "Also run the CPU reference interpreter and compare every output word.") var check = false
    @Flag(help: "Print every element instead of the first 32 of each buffer.") var all = false
    @Flag(help: "Print one JSON object (every element of every output buffer).") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    /// Elements printed per buffer without --all.
    static let preview: Int = 32
    /// Words read back and formatted at a time when a whole buffer is printed or written.
    static let chunkWords: Int = 1 << 20

    func run() throws {
        runReporting {
            let p = try CLI.loadProgram(program)
            var grid = try groups.map(Self.parseGrid) ?? WorkgroupSize(1, 1, 1)
            var budget = self.budget ?? DispatchOptions.defaultForeverBudget
            var contents: [String: BufferContents] = [:]
            var parameters: [String: UInt32] = [:]
            if let inputs {
                let saved = try SavedInputs.load(inputs, program: p)
                if groups == nil { grid = saved.grid }
                if self.budget == nil { budget = saved.foreverBudget }
                contents = saved.buffers.mapValues { .words($0) }
                parameters = saved.parameters
            }
            var given = Set<String>()
            for spec in buffers {
                let (name, value) = try Self.parseBuffer(spec, program: p)
                guard given.insert(name).inserted else { throw CLI.badInput("--buffer \(name) is given twice", fix: "give each buffer once") }
                contents[name] = value
            }
            parameters.merge(try Self.parseParameters(params, program: p)) { _, new in new }
            if let missing = p.parameterNames.sorted().first(where: { parameters[$0] == nil }) {
                throw CLI.badInput("the program reads parameter '\(missing)' but no --param \(missing)=VALUE was given", fix: "add it")
            }
            let context = try CLI.openContext(deviceOptions)
            let validated = try CLI.validate(p, from: program, for: context)
            let pipeline = try context.makePipeline(validated)
            let options = DispatchOptions(foreverBudget: budget, timeout: timeout.duration, parameters: parameters)
            let output = try context.run(pipeline, grid: grid, contents: contents, options: options)
            let verdict = check ? try Self.compare(validated, output, grid: grid, contents: contents, options: options) : nil
            if output.ranPastTimeout { Output.warn(Self.pastTimeout(output.gpuTime, timeout)) }
            let outputs = p.buffers.filter { $0.access.canWrite }
            if let outputDir { try Self.write(outputs, of: output, to: outputDir) }
            if json {
                try Self.printJSON(outputs, of: output, device: context.info.renderer, grid: grid, verdict: verdict?.text)
            } else {
                try Output.line("ran on \(context.info.renderer): grid \(grid), compile \(String(format: "%.1f", output.compileTime.ms)) ms, dispatch \(String(format: "%.3f", output.gpuTime.ms)) ms")
                for decl in outputs { try Self.printText(decl, of: output, all: all) }
                if let t = output.trap {
                    try Output.line("trap: \(t.count) invocation\(t.count == 1 ? "" : "s") trapped; first seen: code \(t.code) at invocation \(t.invocation)")
                }
                if let verdict { try Output.line("check against the reference interpreter: \(verdict.text)") }
            }
            if output.trap != nil {
                throw CLIFailure(status: .ranWithFailures, "the program trapped (see the trap line above)", fix: "look up the trap code in the program; the invocation index says which one raised it")
            }
            if let failure = verdict?.failure { throw failure }
        }
    }

    // MARK: output

    /// The warning for a run that ended by itself after `--timeout`.
    static func pastTimeout(_ took: Duration, _ timeout: Seconds) -> Diagnostic {
        Diagnostic("the dispatch took \(String(format: "%.2f", took.ms / 1000)) s, past --timeout \(timeout.value): the program has no loops, so nothing in it can be stopped and it ran its whole grid; its results are complete",
                   fix: "to keep within a deadline, give the program fewer workgroups or less work per invocation")
    }

    /// Reads buffer `name` back `chunkWords` at a time (whole elements), handing each chunk to `body`.
    static func forEachChunk(_ decl: BufferDecl, of output: borrowing RunOutput, limit: Int? = nil, _ body: ([UInt32]) throws -> Void) throws {
        let total = Swift.min(output.wordCount(decl.name), limit ?? .max)
        let step = chunkWords - chunkWords % decl.elementType.wordCount
        var at = 0
        while at < total {
            try body(try output.read(decl.name, words: at..<Swift.min(total, at + step)))
            at += step
        }
    }

    static func printText(_ decl: BufferDecl, of output: borrowing RunOutput, all: Bool) throws {
        let elements = output.wordCount(decl.name) / decl.elementType.wordCount
        let shown = all ? elements : Swift.min(elements, preview)
        try Output.write("\(decl.name) (\(decl.elementType), \(elements) element\(elements == 1 ? "" : "s")):")
        try forEachChunk(decl, of: output, limit: shown * decl.elementType.wordCount) { words in
            try Output.write(ElementText.plain(words, decl.elementType).map { " " + $0 }.joined())
        }
        try Output.line(elements > shown ? " ... (\(elements - shown) more)" : "")
    }

    /// One JSON object, written as it is read back: a gigabyte buffer never exists as text.
    static func printJSON(_ outputs: [BufferDecl], of output: borrowing RunOutput, device: String, grid: WorkgroupSize, verdict: String?) throws {
        try Output.write("{\n  \"buffers\": {")
        for (i, decl) in outputs.enumerated() {
            try Output.write("\(i == 0 ? "" : ",")\n    \(ElementText.jsonString(decl.name)): [")
            var first = true
            try forEachChunk(decl, of: output) { words in
                let items = ElementText.json(words, decl.elementType)
                guard !items.isEmpty else { return }
                try Output.write((first ? "" : ",") + items.joined(separator: ","))
                first = false
            }
            try Output.write("]")
        }
        try Output.write("\n  },\n")
        if let verdict { try Output.write("  \"check\": \(ElementText.jsonString(verdict)),\n") }
        try Output.write("  \"compileMilliseconds\": \(output.compileTime.ms),\n")
        try Output.write("  \"device\": \(ElementText.jsonString(device)),\n")
        try Output.write("  \"dispatchMilliseconds\": \(output.gpuTime.ms),\n")
        try Output.write("  \"grid\": [\(grid.x), \(grid.y), \(grid.z)],\n")
        try Output.write("  \"ranPastTimeout\": \(output.ranPastTimeout)")
        if let t = output.trap { try Output.write(",\n  \"trap\": {\"code\": \(t.code), \"count\": \(t.count), \"invocation\": \(t.invocation)}") }
        try Output.line("\n}")
    }

    static func write(_ outputs: [BufferDecl], of output: borrowing RunOutput, to dir: String) throws {
        try OutputFiles.makeDirectory(dir, what: "--output-dir")
        for decl in outputs {
            let path = URL(fileURLWithPath: dir).appendingPathComponent("\(decl.name).bin").path
            let file = try OutputFiles.create(path, what: "--output-dir file")
            defer { file.close() }
            try forEachChunk(decl, of: output) { words in
                try file.write(words.withUnsafeBytes { Array($0) })
            }
        }
    }

    /// What `--check` found: "match", the first difference, or why there was no comparison.
    struct Verdict {
        var text: String
        /// Set when the check did not pass: how the command ends once the output is printed.
        var failure: CLIFailure?
    }

    /// Runs the reference interpreter on the same inputs and compares every element, with the
    /// float allowances docs/semantics.md gives the operations the program uses. The device has
    /// already run by then, so an interpreter that cannot finish is a failed check (exit 1), not
    /// bad input.
    static func compare(_ validated: ValidatedProgram, _ output: borrowing RunOutput, grid: WorkgroupSize, contents: [String: BufferContents], options: DispatchOptions) throws -> Verdict {
        let program = validated.program
        let reference: InterpreterResult
        do {
            reference = try Interpreter(options: .init(foreverBudget: options.foreverBudget, parameters: options.parameters)).run(validated, grid: grid, buffers: contents.mapValues(\.materialized))
        } catch {
            let d = CLI.describe(error).first ?? Diagnostic("\(error)", fix: "leave out --check")
            return Verdict(text: "not checked: \(d.problem)", failure: CLIFailure(status: .ranWithFailures, "the device ran, but --check could not compare its results: \(d.problem)", fix: d.fix))
        }
        let tolerance = FloatTolerance.documented(for: validated)
        for decl in program.buffers {
            let want = reference.buffers[decl.name] ?? []
            let got = try output.read(decl.name, words: 0..<output.wordCount(decl.name))
            guard let difference = Conformance.compare(decl, want, got, decl.elementType.isFloat ? tolerance : nil) else { continue }
            let allowance = tolerance.map { " (beyond the documented allowance of \($0.ulps) ulp\($0.absolute > 0 ? " or \($0.absolute) absolute" : "") for this program's approximate float operations)" } ?? ""
            return Verdict(text: "mismatch: \(difference)\(decl.elementType.isFloat ? allowance : "")", failure: CLIFailure(
                status: .ranWithFailures, "the device and the reference interpreter disagree (see the check line above)",
                fix: tolerance == nil
                    ? "report the program and its inputs (vyre-gl selftest --dump-failures writes such files); it is a driver or vyre-gl bug"
                    : "if the difference flows from exp, log, sin, cos, sqrt or a float division, whose precision GLSL leaves to the device, it is allowed (docs/semantics.md); otherwise report the program and its inputs"))
        }
        return Verdict(text: "match", failure: nil)
    }

    // MARK: input

    static func parseGrid(_ text: String) throws -> WorkgroupSize {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Decimal32.parse($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...3).contains(parts.count), parts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw CLI.badInput("--groups '\(quoteForMessage(text))' is not 1 to 3 positive whole numbers", fix: "write e.g. --groups 16 or --groups 8,8,1")
        }
        let v = parts.map { $0! }
        return WorkgroupSize(v[0], v.count > 1 ? v[1] : 1, v.count > 2 ? v[2] : 1)
    }

    static func parseParameters(_ specs: [String], program: Program) throws -> [String: UInt32] {
        var out: [String: UInt32] = [:]
        for spec in specs {
            let parts = spec.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, let v = Decimal32.parse(parts[1]) else {
                throw CLI.badInput("--param '\(quoteForMessage(spec))' is not NAME=VALUE with a decimal u32 value", fix: "write e.g. --param first=16")
            }
            guard program.parameterNames.contains(parts[0]) else {
                let known = program.parameterNames.sorted()
                let reads = known.isEmpty ? "it reads no parameters" : "it reads \(known.joined(separator: ", "))"
                throw CLI.badInput("--param names '\(quoteForMessage(parts[0]))', which the program does not read (\(reads))", fix: "use one of its parameter names")
            }
            guard out.updateValue(v, forKey: parts[0]) == nil else { throw CLI.badInput("--param \(parts[0]) is given twice", fix: "give each parameter once") }
        }
        return out
    }

    /// Parses NAME=[...], NAME=@FILE or NAME=zeros:N.
    static func parseBuffer(_ spec: String, program: Program) throws -> (String, BufferContents) {
        guard let eq = spec.firstIndex(of: "=") else {
            throw CLI.badInput("--buffer '\(quoteForMessage(spec))' has no '='", fix: "write NAME=[1,2,3], NAME=@file.json or NAME=zeros:N")
        }
        let name = String(spec[..<eq])
        let value = spec[spec.index(after: eq)...]
        guard let decl = program.buffer(named: name) else {
            throw CLI.badInput("--buffer names '\(quoteForMessage(name))', which the program does not declare (it has \(program.buffers.map(\.name).joined(separator: ", ")))", fix: "use one of those names")
        }
        if value.hasPrefix("zeros:") {
            // At most 2^40 elements here; the device's own limit is checked before anything is allocated.
            guard let n = Decimal32.parseCount(value.dropFirst(6)), n >= 1 else {
                throw CLI.badInput("--buffer \(name)=\(quoteForMessage(value)): zeros:N needs N, a whole number of elements from 1", fix: "give an element count")
            }
            return (name, .zeros(words: n * decl.elementType.wordCount))
        }
        if value.hasPrefix("@") {
            let path = String(value.dropFirst())
            let bytes = try InputFile.read(path, what: "buffer file")
            if path.hasSuffix(".json") { return (name, .words(try parseArray(bytes, decl, source: "buffer file '\(quoteForMessage(path, limit: 160))'"))) }
            guard bytes.count % decl.elementType.byteCount == 0 else {
                throw CLI.badInput("buffer file '\(quoteForMessage(path, limit: 160))' has \(counted(bytes.count, "byte")), not a whole number of \(decl.elementType) elements (\(decl.elementType.byteCount) bytes each)", fix: "pass raw little-endian \(decl.elementType) data")
            }
            var words = [UInt32](repeating: 0, count: bytes.count / 4)
            words.withUnsafeMutableBytes { $0.copyBytes(from: bytes) }
            return (name, .words(words.map { UInt32(littleEndian: $0) }))
        }
        return (name, .words(try parseArray(Array(value.utf8), decl, source: "--buffer \(name)")))
    }

    /// A JSON array of `decl`'s element type, strictly: integers exact and in range, bools only
    /// true or false, floats finite or "nan", "inf", "-inf".
    static func parseArray(_ bytes: [UInt8], _ decl: BufferDecl, source: String) throws -> [UInt32] {
        do {
            return try StrictJSONDecoder().decode(from: bytes) { decoder in
                var list = try decoder.unkeyedContainer()
                var words: [UInt32] = []
                words.reserveCapacity((list.count ?? 0) * decl.elementType.wordCount)
                while !list.isAtEnd {
                    let element = try ElementText.decode(try list.superDecoder(), decl.elementType)
                    let bits = element.bits
                    words.append(UInt32(truncatingIfNeeded: bits))
                    if decl.elementType.is64Bit { words.append(UInt32(truncatingIfNeeded: bits >> 32)) }
                }
                return words
            }
        } catch let error as DecodingError {
            let e = ProgramJSONError(error)
            throw CLI.badInput("\(source)\(e.path == "(top level)" ? "" : e.path): \(e.problem) (buffer '\(decl.name)' holds \(decl.elementType))", fix: "\(e.fix)")
        }
    }
}

/// `--timeout`: seconds, finite, more than 0 and at most a day.
struct Seconds: ExpressibleByArgument {
    var value: Double
    var duration: Duration { .nanoseconds(Int64(value * 1e9)) }

    init(_ value: Double) { self.value = value }

    init?(argument: String) {
        guard let v = Double(argument), v.isFinite, v > 0, v <= 86_400 else { return nil }
        value = v
    }

    var defaultValueDescription: String { "\(value)" }
}

/// Decimal numbers as the command line takes them: digits only, no sign, no leading zeros.
enum Decimal32 {
    static func parse(_ text: some StringProtocol) -> UInt32? {
        guard isCanonical(text) else { return nil }
        return UInt32(text)
    }

    /// A count up to 2^40 (larger is refused before any arithmetic can overflow).
    static func parseCount(_ text: some StringProtocol) -> Int? {
        guard isCanonical(text), text.count <= 13, let n = Int(text), n <= 1 << 40 else { return nil }
        return n
    }

    private static func isCanonical(_ text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        return !bytes.isEmpty && bytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && (bytes.count == 1 || bytes[0] != 0x30)
    }
}

/// The `NAME.inputs.json` file `selftest --dump-failures` writes, read strictly.
struct SavedInputs {
    var grid: WorkgroupSize
    var foreverBudget: UInt32
    var buffers: [String: [UInt32]]
    var parameters: [String: UInt32]

    static func load(_ path: String, program: Program) throws -> SavedInputs {
        let bytes = try InputFile.read(path, what: "inputs file")
        do {
            return try StrictJSONDecoder().decode(from: bytes) { decoder in
                let c = try decoder.container(keyedBy: JSONKey.self)
                try c.allow(["grid", "foreverBudget", "buffers", "parameters"])
                let g = try c.decode([UInt32].self, forKey: "grid")
                guard (1...3).contains(g.count), g.allSatisfy({ $0 >= 1 }) else {
                    throw c.fail("grid", "the grid needs 1 to 3 numbers, each at least 1", fix: "write e.g. [4, 1, 1]")
                }
                let buffers = try c.decode([String: [UInt32]].self, forKey: "buffers")
                if let unknown = buffers.keys.sorted().first(where: { program.buffer(named: $0) == nil }) {
                    throw c.fail("buffers", "'\(quoteForMessage(unknown))' is not a buffer of the program", fix: "use the inputs file written with this program")
                }
                let parameters = try c.decodeIfPresent([String: UInt32].self, forKey: "parameters") ?? [:]
                if let unknown = parameters.keys.sorted().first(where: { !program.parameterNames.contains($0) }) {
                    throw c.fail("parameters", "'\(quoteForMessage(unknown))' is not a parameter the program reads", fix: "use the inputs file written with this program")
                }
                return SavedInputs(grid: WorkgroupSize(g[0], g.count > 1 ? g[1] : 1, g.count > 2 ? g[2] : 1),
                                   foreverBudget: try c.integer("foreverBudget", UInt32.self), buffers: buffers,
                                   parameters: parameters)
            }
        } catch let error as DecodingError {
            throw CLIFailure(status: .badInput, diagnostics: ProgramJSONError(error).diagnostics.map {
                $0.located(in: "inputs file '\(quoteForMessage(path, limit: 160))' (the NAME.inputs.json that 'vyre-gl selftest --dump-failures' writes)")
            })
        }
    }
}

extension Duration {
    var ms: Double { Double(components.seconds) * 1e3 + Double(components.attoseconds) * 1e-15 }
}
