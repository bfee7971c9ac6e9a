import ArgumentParser
import Foundation
import VyreGL
import VyreIR

struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run any program on the GPU and print (or write) its output buffers.",
        discussion: """
            Buffers: --buffer NAME=[1,2,3] (a JSON array, typed by the buffer), NAME=@FILE (a .json array, or raw \
            little-endian bytes), or NAME=zeros:N (N zero elements). Buffers with a fixed count that are not given \
            start zeroed; runtime-sized buffers must be given.
            """)

    @Argument(help: "The program: JSON, or wire bytes (.vyir).") var program: String
    @Option(help: "Workgroups to dispatch: X[,Y[,Z]].") var groups: String = "1"
    @Option(name: .customLong("buffer"), help: "NAME=[...] | NAME=@FILE | NAME=zeros:N (repeatable).") var buffers: [String] = []
    @Option(help: "Iterations each forever loop may run.") var budget: UInt32 = 1 << 16
    @Option(name: .customLong("param"), help: "NAME=VALUE: a parameter the program reads (u32; repeatable).") var params: [String] = []
    @Option(help: "Grid, budget and buffers from a file written by 'selftest --dump-failures' (NAME.inputs.json).") var inputs: String?
    @Option(help: "Seconds to wait for the dispatch.") var timeout: Double = 60
    @Option(name: .customLong("output-dir"), help: "Also write each output buffer as DIR/NAME.bin (raw little-endian).") var outputDir: String?
    @Flag(help: "Also run the CPU reference interpreter and compare every output word.") var check = false
    @Flag(help: "Print every element instead of the first 32 of each buffer.") var all = false
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var deviceOptions: DeviceOptions

    struct Output: Encodable {
        var device: String
        var grid: [UInt32]
        var buffers: [String: JSONValue]
        var trap: TrapReport?
        var compileMilliseconds: Double
        var dispatchMilliseconds: Double
        var check: String?
    }

    func run() throws {
        runReporting {
            let p = try CLI.loadProgram(program)
            var grid = try Self.parseGrid(groups)
            var budget = self.budget
            var inputs: [String: [UInt32]] = [:]
            let saved = try self.inputs.map(Self.loadInputs)
            if let saved {
                grid = saved.grid
                budget = saved.budget
                inputs = saved.buffers
            }
            for spec in buffers {
                let (name, words) = try Self.parseBuffer(spec, program: p)
                inputs[name] = words
            }
            var parameters = saved?.parameters ?? [:]
            for spec in params {
                let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let v = UInt32(parts[1]) else {
                    throw CLI.badInput("--param '\(spec)' is not NAME=VALUE with a u32 value. Fix: write e.g. --param first=16.")
                }
                parameters[parts[0]] = v
            }
            if let missing = p.parameterNames.sorted().first(where: { parameters[$0] == nil }) {
                throw CLI.badInput("the program reads parameter '\(missing)' but no --param \(missing)=VALUE was given. Fix: add it.")
            }
            let context = try CLI.openContext(deviceOptions)
            let result = try context.run(p, grid: grid, buffers: inputs, options: DispatchOptions(foreverBudget: budget, timeout: .milliseconds(Int64(timeout * 1000)), parameters: parameters))
            var verdict: String? = nil
            if check {
                let reference = try Interpreter(options: .init(foreverBudget: budget, parameters: parameters)).run(p, grid: grid, buffers: inputs)
                verdict = "match"
                for decl in p.buffers where reference.buffers[decl.name] != result.buffers[decl.name] {
                    let want = reference.buffers[decl.name] ?? []
                    let got = result.buffers[decl.name] ?? []
                    let at = zip(want, got).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(want.count, got.count)
                    verdict = "mismatch in '\(decl.name)' at word \(at): device \(got.indices.contains(at) ? String(got[at]) : "-"), reference \(want.indices.contains(at) ? String(want[at]) : "-")"
                    break
                }
            }
            let outputs = p.buffers.filter { $0.access.canWrite }
            if let outputDir {
                try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
                for decl in outputs {
                    let words = result.buffers[decl.name] ?? []
                    try Data(words.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8 & 0xFF), UInt8($0 >> 16 & 0xFF), UInt8($0 >> 24)] })
                        .write(to: URL(fileURLWithPath: outputDir).appendingPathComponent("\(decl.name).bin"))
                }
            }
            if json {
                var values: [String: JSONValue] = [:]
                for decl in outputs { values[decl.name] = .array(Value.elements(result.buffers[decl.name] ?? [], as: decl.elementType).map(JSONValue.init)) }
                CLI.printJSON(Output(device: context.info.renderer, grid: [grid.x, grid.y, grid.z], buffers: values, trap: result.trap,
                                     compileMilliseconds: result.compileTime.ms, dispatchMilliseconds: result.gpuTime.ms, check: verdict))
            } else {
                print("ran on \(context.info.renderer): grid \(grid), compile \(String(format: "%.1f", result.compileTime.ms)) ms, dispatch \(String(format: "%.3f", result.gpuTime.ms)) ms")
                for decl in outputs {
                    let elements = Value.elements(result.buffers[decl.name] ?? [], as: decl.elementType)
                    let shown = all ? elements : Array(elements.prefix(32))
                    let more = elements.count > shown.count ? " ... (\(elements.count - shown.count) more)" : ""
                    print("\(decl.name) (\(decl.elementType), \(elements.count) elements): \(shown.map(\.plain).joined(separator: " "))\(more)")
                }
                if let t = result.trap {
                    print("trap: \(t.count) invocation\(t.count == 1 ? "" : "s") trapped; first seen: code \(t.code) at invocation \(t.invocation)")
                }
                if let verdict { print("check against the reference interpreter: \(verdict)") }
            }
            if result.trap != nil || (verdict != nil && verdict != "match") { throw CLIFailure(status: .ranWithFailures, message: result.trap != nil ? "the program trapped" : "device and reference disagree") }
        }
    }

    struct SavedInputs: Decodable {
        var grid: [UInt32]
        var foreverBudget: UInt32
        var buffers: [String: [UInt32]]
        var parameters: [String: UInt32]?
    }

    static func loadInputs(_ path: String) throws -> (grid: WorkgroupSize, budget: UInt32, buffers: [String: [UInt32]], parameters: [String: UInt32]) {
        let data = try CLI.read(path, what: "inputs file")
        guard let saved = try? JSONDecoder().decode(SavedInputs.self, from: data), (1...3).contains(saved.grid.count), saved.grid.allSatisfy({ $0 >= 1 }) else {
            throw CLI.badInput("inputs file '\(path)' is not {\"grid\": [x, y, z], \"foreverBudget\": n, \"buffers\": {name: [words]}}. Fix: pass a file written by 'vyre-gl selftest --dump-failures'.")
        }
        let g = saved.grid
        return (WorkgroupSize(g[0], g.count > 1 ? g[1] : 1, g.count > 2 ? g[2] : 1), saved.foreverBudget, saved.buffers, saved.parameters ?? [:])
    }

    static func parseGrid(_ text: String) throws -> WorkgroupSize {
        let parts = text.split(separator: ",").map { UInt32($0.trimmingCharacters(in: .whitespaces)) }
        guard (1...3).contains(parts.count), parts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw CLI.badInput("--groups '\(text)' is not 1 to 3 positive numbers. Fix: write e.g. --groups 16 or --groups 8,8,1.")
        }
        let v = parts.map { $0! }
        return WorkgroupSize(v[0], v.count > 1 ? v[1] : 1, v.count > 2 ? v[2] : 1)
    }

    /// Parses NAME=[...], NAME=@FILE or NAME=zeros:N into the buffer's words.
    static func parseBuffer(_ spec: String, program: Program) throws -> (String, [UInt32]) {
        guard let eq = spec.firstIndex(of: "=") else {
            throw CLI.badInput("--buffer '\(spec)' has no '='. Fix: write NAME=[1,2,3], NAME=@file.json or NAME=zeros:N.")
        }
        let name = String(spec[..<eq])
        let value = String(spec[spec.index(after: eq)...])
        guard let decl = program.buffer(named: name) else {
            throw CLI.badInput("--buffer names '\(name)', which the program does not declare (it has \(program.buffers.map(\.name).joined(separator: ", "))). Fix: use one of those names.")
        }
        if value.hasPrefix("zeros:") {
            guard let n = Int(value.dropFirst(6)), n >= 1, n <= 1 << 28 else {
                throw CLI.badInput("--buffer \(name)=\(value): zeros:N needs N from 1 to 268435456. Fix: give an element count.")
            }
            return (name, Array(repeating: 0, count: n * decl.elementType.wordCount))
        }
        if value.hasPrefix("@") {
            let path = String(value.dropFirst())
            let data = try CLI.read(path, what: "buffer file")
            if path.hasSuffix(".json") { return (name, try parseArray(data, decl, source: path)) }
            guard data.count % decl.elementType.byteCount == 0 else {
                throw CLI.badInput("buffer file '\(path)' has \(data.count) bytes, not a whole number of \(decl.elementType) elements (\(decl.elementType.byteCount) bytes each). Fix: pass raw little-endian \(decl.elementType) data.")
            }
            var words = [UInt32](repeating: 0, count: data.count / 4)
            _ = words.withUnsafeMutableBytes { data.copyBytes(to: $0) }
            return (name, words.map { UInt32(littleEndian: $0) })
        }
        return (name, try parseArray(Data(value.utf8), decl, source: "--buffer \(name)"))
    }

    static func parseArray(_ data: Data, _ decl: BufferDecl, source: String) throws -> [UInt32] {
        guard let array = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [Any] else {
            throw CLI.badInput("\(source) is not a JSON array. Fix: write e.g. [1, 2, 3].")
        }
        var words: [UInt32] = []
        for (i, item) in array.enumerated() {
            guard let v = element(item, decl.elementType) else {
                throw CLI.badInput("\(source)[\(i)] = \(item) is not a valid \(decl.elementType) for buffer '\(decl.name)'. Fix: write \(decl.elementType) values\(decl.elementType.isFloat ? " (or \"nan\", \"inf\", \"-inf\")" : "").")
            }
            words += v.words
        }
        return words
    }

    static func element(_ item: Any, _ type: DataType) -> Value? {
        if let s = item as? String, type.isFloat {
            let special: Double? = s == "nan" ? .nan : s == "inf" ? .infinity : s == "-inf" ? -.infinity : nil
            return special.map { type == .f32 ? .f32(Float($0)) : .f64($0) }
        }
        guard let n = item as? NSNumber else { return nil }
        let d = n.doubleValue
        switch type {
        case .bool:
            // JSON true/false arrive as the numbers 1 and 0.
            return d == 0 || d == 1 ? .bool(d == 1) : nil
        case .f32: return .f32(Float(d))
        case .f64: return .f64(d)
        case .u32: return d.rounded() == d && d >= 0 && d <= Double(UInt32.max) ? .u32(UInt32(d)) : nil
        case .i32: return d.rounded() == d && d >= Double(Int32.min) && d <= Double(Int32.max) ? .i32(Int32(d)) : nil
        case .u64:
            if let s = (item as? NSNumber)?.stringValue, let v = UInt64(s) { return .u64(v) }
            return nil
        case .i64:
            if let s = (item as? NSNumber)?.stringValue, let v = Int64(s) { return .i64(v) }
            return nil
        }
    }
}

extension Duration {
    var ms: Double { Double(components.seconds) * 1e3 + Double(components.attoseconds) * 1e-15 }
}
