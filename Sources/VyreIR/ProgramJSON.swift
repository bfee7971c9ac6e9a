#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The JSON form of a program, for people writing programs by hand and for tools.
///
/// Every IR value has one explicit JSON spelling (written by the encoder); when reading, a bare
/// non-negative integer also means a u32 literal and a bare string a variable, which keeps
/// hand-written programs short. Unknown keys are errors, so a typo never passes silently.
/// The README shows the full form.
extension Program: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.allow(["workgroup_size", "buffers", "shared", "entry"])
        let raw = try c.decodeIfPresent([Double].self, forKey: "workgroup_size") ?? [1]
        guard (1...3).contains(raw.count) else {
            throw c.fail("workgroup_size", "workgroup_size needs 1 to 3 numbers, found \(raw.count)", fix: "write e.g. [64] or [8, 8, 1]")
        }
        guard raw.allSatisfy({ $0 >= 1 && $0 <= Double(UInt32.max) && $0.rounded() == $0 }) else {
            throw c.fail("workgroup_size", "workgroup_size \(raw) has a value that is not a positive whole number", fix: "write e.g. [64] or [8, 8, 1]")
        }
        let size = raw.map { UInt32($0) }
        self.init(
            buffers: try c.decodeIfPresent([BufferDecl].self, forKey: "buffers") ?? [],
            shared: try c.decodeIfPresent([SharedDecl].self, forKey: "shared") ?? [],
            workgroupSize: WorkgroupSize(size[0], size.count > 1 ? size[1] : 1, size.count > 2 ? size[2] : 1),
            entry: try c.decode([Node].self, forKey: "entry"))
    }

    /// Writes the JSON form: `workgroup_size` always as three numbers, `shared` only when there are
    /// shared arrays.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode([workgroupSize.x, workgroupSize.y, workgroupSize.z], forKey: "workgroup_size")
        try c.encode(buffers, forKey: "buffers")
        if !shared.isEmpty { try c.encode(shared, forKey: "shared") }
        try c.encode(entry, forKey: "entry")
    }

    /// Parses the JSON form; errors name the JSON path and end with a Fix.
    public init(json: some Collection<UInt8>) throws(ProgramJSONError) {
        self = try ProgramJSONError.decode(Program.self, from: json, otherwise: "check that the file is a JSON program")
    }

    /// The JSON form, with sorted keys so equal programs give equal text.
    public func jsonBytes(pretty: Bool = true) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a Program cannot fail: every value has a JSON spelling.
        return Array(try! encoder.encode(self))
    }

    /// ``jsonBytes(pretty:)`` as a string.
    public func jsonString(pretty: Bool = true) -> String { String(decoding: jsonBytes(pretty: pretty), as: UTF8.self) }
}

/// A JSON document that is not a valid program encoding.
public struct ProgramJSONError: DiagnosticError, Sendable, Hashable {
    /// The problem; its path says where in the document, e.g. `entry[2].value.args[0]`.
    public var diagnostic: Diagnostic
    public var diagnostics: [Diagnostic] { [diagnostic] }
    public var path: String { diagnostic.path ?? "(top level)" }
    public var problem: String { diagnostic.problem }
    public var fix: String { diagnostic.fix }

    /// An error at the JSON path `path` (as ``renderJSONPath(_:)`` writes it, or `(top level)`).
    public init(path: String, problem: String, fix: String) {
        diagnostic = Diagnostic(problem, at: path, fix: fix)
    }

    /// Decodes a whole document of `type` strictly; every failure is one of these errors, naming
    /// its JSON path, and one that has no path (none does today) gets `fix`.
    public static func decode<T: Decodable>(_ type: T.Type, from json: some Collection<UInt8>, otherwise fix: String) throws(ProgramJSONError) -> T {
        do {
            return try StrictJSONDecoder().decode(type, from: json)
        } catch let error as DecodingError {
            throw ProgramJSONError(error)
        } catch {
            throw ProgramJSONError(path: "(top level)", problem: "\(error)", fix: fix)
        }
    }

    /// The JSON path, problem and Fix of a decoding error from any Codable form built on the IR's.
    public init(_ error: DecodingError) {
        let render = renderJSONPath
        switch error {
        case .dataCorrupted(let ctx):
            if let detail = ctx.underlyingError as? Diagnostic {
                self.init(path: render(ctx.codingPath), problem: detail.problem, fix: detail.fix)
            } else if ctx.codingPath.isEmpty {
                self.init(path: "(top level)", problem: "the text is not valid JSON", fix: "check brackets, commas and quotes (a JSON linter points at the spot)")
            } else {
                self.init(path: render(ctx.codingPath), problem: ctx.debugDescription, fix: "write the value as the JSON form documents")
            }
        case .keyNotFound(let key, let ctx):
            self.init(path: render(ctx.codingPath + [key]), problem: "required key '\(key.stringValue)' is missing", fix: "add \"\(key.stringValue)\"")
        case .typeMismatch(let type, let ctx):
            self.init(path: render(ctx.codingPath), problem: "expected \(Self.describe(type))", fix: "write a value of that kind here")
        case .valueNotFound(let type, let ctx):
            self.init(path: render(ctx.codingPath), problem: "expected \(Self.describe(type)), found null", fix: "write a value instead of null")
        @unknown default:
            self.init(path: "(top level)", problem: "\(error)", fix: "check the document against the JSON form")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is UInt32.Type, is Int.Type, is UInt64.Type, is Int32.Type, is Int64.Type: "an integer in range"
        case is Float.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "a \(type)"
        }
    }

}

/// The coding key of every JSON form: any object key.
public struct JSONKey: CodingKey, ExpressibleByStringLiteral, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    /// The object key `stringValue`.
    public init(stringValue: String) { self.stringValue = stringValue }
    /// Always nil: this key names object members, never array positions.
    public init?(intValue: Int) { nil }
    /// Lets a string literal stand for a key, as in `forKey: "entry"`.
    public init(stringLiteral value: String) { stringValue = value }
}

extension KeyedDecodingContainer where Key == JSONKey {
    /// A decoding error at `key` of this object (or at the object itself when `key` is nil).
    public func fail(_ key: String?, _ problem: String, fix: String) -> DecodingError {
        let path = key.map { codingPath + [JSONKey(stringValue: $0)] } ?? codingPath
        return Diagnostic(problem, fix: fix).error(at: path)
    }

    /// Fails unless the object has `key`; `fix` says what to add.
    public func require(_ key: String, fix: String) throws {
        guard contains(JSONKey(stringValue: key)) else { throw fail(nil, "required key '\(key)' is missing", fix: fix) }
    }

    /// The array under `key`, which must be there (`fix` says what to add), each element decoded
    /// by `element`. More than `limit` elements fail with `tooMany` as soon as the next one is
    /// seen, so a huge array is refused before it is all decoded.
    public func requiredList<T>(_ key: String, fix: String, limit: Int = .max, tooMany: (problem: String, fix: String)? = nil,
                                _ element: (any Decoder) throws -> T) throws -> [T] {
        try require(key, fix: fix)
        var list = try nestedUnkeyedContainer(forKey: JSONKey(stringValue: key))
        var out: [T] = []
        out.reserveCapacity(Swift.min(list.count ?? 0, limit))
        while !list.isAtEnd {
            guard out.count < limit else {
                throw fail(key, tooMany?.problem ?? "more than \(limit) elements", fix: tooMany?.fix ?? "use at most \(limit)")
            }
            out.append(try element(try list.superDecoder()))
        }
        return out
    }

    /// Rejects keys outside `allowed`, so misspelled keys are reported instead of ignored.
    public func allow(_ allowed: Set<String>) throws {
        if let bad = allKeys.map(\.stringValue).sorted().first(where: { !allowed.contains($0) }) {
            throw fail(bad, "unknown key '\(quoteForMessage(bad))'", fix: "use only \(allowed.sorted().joined(separator: ", "))")
        }
    }

    /// The string under `key` as a `T`; a name that is not a `T` fails, listing `choices` as the
    /// names to use.
    public func enumValue<T: RawRepresentable>(_ key: String, _: T.Type, choices: [T]) throws -> T where T.RawValue == String {
        let raw = try decode(String.self, forKey: JSONKey(stringValue: key))
        guard let v = T(rawValue: raw) else {
            throw fail(key, "'\(quoteForMessage(raw))' is not one of \(choices.map(\.rawValue).joined(separator: ", "))", fix: "use one of those names")
        }
        return v
    }

    /// An integer of type T (the strict decoder names the range and the value when it does not fit).
    public func integer<T: FixedWidthInteger & Decodable>(_ key: String, _: T.Type = T.self) throws -> T {
        try decode(T.self, forKey: JSONKey(stringValue: key))
    }

    /// ``integer(_:_:)`` when the object has `key`, else nil.
    public func integerIfPresent<T: FixedWidthInteger & Decodable>(_ key: String, _: T.Type = T.self) throws -> T? {
        contains(JSONKey(stringValue: key)) ? try integer(key, T.self) : nil
    }

    /// The string under `key`, unchecked: whether it is a valid name is validation's question.
    public func name(_ key: String) throws -> String { try decode(String.self, forKey: JSONKey(stringValue: key)) }
    /// The expression under `key`.
    public func expr(_ key: String) throws -> Expr { try decode(Expr.self, forKey: JSONKey(stringValue: key)) }
    /// The statement list under `key`.
    public func nodes(_ key: String) throws -> [Node] { try decode([Node].self, forKey: JSONKey(stringValue: key)) }
}

extension BufferDecl: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.allow(["name", "binding", "access", "type", "count", "placement"])
        self.init(try c.name("name"), binding: try c.integer("binding"),
                  access: try c.enumValue("access", BufferAccess.self, choices: BufferAccess.allCases),
                  type: try c.enumValue("type", DataType.self, choices: DataType.allCases),
                  count: try c.integerIfPresent("count"),
                  placement: c.contains("placement") ? try c.enumValue("placement", BufferPlacement.self, choices: BufferPlacement.allCases) : .deviceLocal)
    }

    /// Writes the JSON form; `count` only for a fixed-count buffer, `placement` only when it is not
    /// device-local.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode(name, forKey: "name")
        try c.encode(binding, forKey: "binding")
        try c.encode(access.rawValue, forKey: "access")
        try c.encode(elementType.rawValue, forKey: "type")
        try c.encodeIfPresent(count, forKey: "count")
        if placement != .deviceLocal { try c.encode(placement.rawValue, forKey: "placement") }
    }
}

extension SharedDecl: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.allow(["name", "type", "count"])
        self.init(try c.name("name"), type: try c.enumValue("type", DataType.self, choices: DataType.allCases),
                  count: try c.integer("count"))
    }

    /// Writes the JSON form.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode(name, forKey: "name")
        try c.encode(elementType.rawValue, forKey: "type")
        try c.encode(count, forKey: "count")
    }
}

extension Node: Codable {
    private static let bare: [String: Node] = ["return": .return, "break": .break, "continue": .continue]

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let word = try? single.decode(String.self) {
            guard let n = Node.bare[word] else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "",
                    underlyingError: Diagnostic("'\(word)' is not a statement", fix: "bare strings may only be return, break or continue; other statements are objects like {\"let\": ...}")))
            }
            self = n
            return
        }
        let c = try decoder.container(keyedBy: JSONKey.self)
        let keys = Set(c.allKeys.map(\.stringValue))
        let kinds = ["let", "assign", "store", "if", "for", "while", "forever", "block", "region", "barrier",
                     "async_load", "async_store", "async_wait", "trap"]
        guard let kind = kinds.first(where: keys.contains) else {
            throw c.fail(nil, "object is not a statement (keys: \(quoteForMessage(keys.sorted().map { quoteForMessage($0, limit: 24) }.joined(separator: ", "), limit: 120)))", fix: "start the statement with one of \(kinds.joined(separator: ", "))")
        }
        switch kind {
        case "let":
            try c.allow(["let", "value"])
            self = .let(try c.name("let"), try c.expr("value"))
        case "assign":
            try c.allow(["assign", "value"])
            self = .assign(try c.name("assign"), try c.expr("value"))
        case "store":
            try c.allow(["store", "index", "value"])
            self = .store(try c.name("store"), index: try c.expr("index"), value: try c.expr("value"))
        case "if":
            try c.allow(["if", "then", "else"])
            self = .if(try c.expr("if"), then: try c.nodes("then"), else: c.contains("else") ? try c.nodes("else") : [])
        case "for":
            try c.allow(["for", "from", "to", "body"])
            self = .for(try c.name("for"), from: try c.expr("from"), to: try c.expr("to"), body: try c.nodes("body"))
        case "while":
            try c.allow(["while", "max_iterations", "body"])
            self = .while(try c.expr("while"), maxIterations: try c.expr("max_iterations"), body: try c.nodes("body"))
        case "forever":
            try c.allow(["forever"])
            self = .forever(try c.nodes("forever"))
        case "block":
            try c.allow(["block"])
            self = .block(try c.nodes("block"))
        case "region":
            try c.allow(["region", "body"])
            self = .region(try c.name("region"), try c.nodes("body"))
        case "barrier":
            try c.allow(["barrier"])
            self = .barrier(try c.enumValue("barrier", BarrierKind.self, choices: BarrierKind.allCases))
        case "async_load":
            try c.allow(["async_load"])
            self = .asyncLoad(try c.decode(AsyncCopy.self, forKey: "async_load"))
        case "async_store":
            try c.allow(["async_store"])
            self = .asyncStore(try c.decode(AsyncCopy.self, forKey: "async_store"))
        case "async_wait":
            try c.allow(["async_wait"])
            self = .asyncWait(try c.name("async_wait"))
        default:
            try c.allow(["trap"])
            self = .trap(try c.expr("trap"))
        }
    }

    /// Writes the JSON form: `return`, `break` and `continue` as bare strings, any other statement as
    /// an object led by its kind; an empty `else` is left out.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .return, .break, .continue:
            var s = encoder.singleValueContainer()
            try s.encode(Node.bare.first { $0.value == self }!.key)
            return
        default: break
        }
        var c = encoder.container(keyedBy: JSONKey.self)
        switch self {
        case .let(let n, let v): try c.encode(n, forKey: "let"); try c.encode(v, forKey: "value")
        case .assign(let n, let v): try c.encode(n, forKey: "assign"); try c.encode(v, forKey: "value")
        case .store(let m, let i, let v): try c.encode(m, forKey: "store"); try c.encode(i, forKey: "index"); try c.encode(v, forKey: "value")
        case .if(let cond, let t, let e):
            try c.encode(cond, forKey: "if"); try c.encode(t, forKey: "then")
            if !e.isEmpty { try c.encode(e, forKey: "else") }
        case .for(let n, let f, let t, let b):
            try c.encode(n, forKey: "for"); try c.encode(f, forKey: "from"); try c.encode(t, forKey: "to"); try c.encode(b, forKey: "body")
        case .while(let cond, let m, let b):
            try c.encode(cond, forKey: "while"); try c.encode(m, forKey: "max_iterations"); try c.encode(b, forKey: "body")
        case .forever(let b): try c.encode(b, forKey: "forever")
        case .block(let b): try c.encode(b, forKey: "block")
        case .region(let n, let b): try c.encode(n, forKey: "region"); try c.encode(b, forKey: "body")
        case .barrier(let k): try c.encode(k.rawValue, forKey: "barrier")
        case .asyncLoad(let a): try c.encode(a, forKey: "async_load")
        case .asyncStore(let a): try c.encode(a, forKey: "async_store")
        case .asyncWait(let t): try c.encode(t, forKey: "async_wait")
        case .trap(let code): try c.encode(code, forKey: "trap")
        case .return, .break, .continue: break
        }
    }
}

extension AsyncCopy: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.allow(["tag", "source", "source_offset", "destination", "destination_offset", "count"])
        self.init(tag: try c.name("tag"), source: try c.name("source"), sourceOffset: try c.expr("source_offset"),
                  destination: try c.name("destination"), destinationOffset: try c.expr("destination_offset"), count: try c.expr("count"))
    }

    /// Writes the JSON form, with snake_case keys.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode(tag, forKey: "tag")
        try c.encode(source, forKey: "source")
        try c.encode(sourceOffset, forKey: "source_offset")
        try c.encode(destination, forKey: "destination")
        try c.encode(destinationOffset, forKey: "destination_offset")
        try c.encode(count, forKey: "count")
    }
}

extension Expr: Codable {
    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer() {
            if let n = try? single.decode(UInt32.self) { self = .literal(.u32(n)); return }
            if let name = try? single.decode(String.self) { self = .variable(name); return }
            if let d = try? single.decode(Double.self) {
                let text = d.rounded() == d && Swift.abs(d) < 1e18 ? "\(Int64(d))" : "\(d)"
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "",
                    underlyingError: Diagnostic("a bare number is a u32 literal, and \(text) is not a whole number in 0...4294967295",
                                                fix: "write other literals with their type, e.g. {\"i32\": -1} or {\"f32\": 1.5}")))
            }
        }
        let c = try decoder.container(keyedBy: JSONKey.self)
        let keys = Set(c.allKeys.map(\.stringValue))
        let literalKeys = ["u32", "i32", "f32", "bool", "u64", "i64", "f64", "f32_bits", "f64_bits"]
        if let k = literalKeys.first(where: keys.contains) {
            try c.allow([k])
            self = .literal(try Expr.literal(c, k))
            return
        }
        let kinds = ["var", "param", "load", "length", "builtin", "op", "select", "cast", "bitcast", "fma", "atomic", "compare_exchange"]
        guard let kind = kinds.first(where: keys.contains) else {
            throw c.fail(nil, "object is not an expression (keys: \(quoteForMessage(keys.sorted().map { quoteForMessage($0, limit: 24) }.joined(separator: ", "), limit: 120)))", fix: "use one of \((literalKeys + kinds).joined(separator: ", ")), or a bare u32 number or variable name")
        }
        switch kind {
        case "var":
            try c.allow(["var"])
            self = .variable(try c.name("var"))
        case "param":
            try c.allow(["param"])
            self = .parameter(try c.name("param"))
        case "load":
            try c.allow(["load", "index"])
            self = .load(try c.name("load"), index: try c.expr("index"))
        case "length":
            try c.allow(["length"])
            self = .length(try c.name("length"))
        case "builtin":
            try c.allow(["builtin"])
            let name = try c.name("builtin")
            guard let b = Builtin(name: name) else {
                throw c.fail("builtin", "unknown builtin '\(name)'", fix: "use one of \(Builtin.all.map(\.name).joined(separator: ", "))")
            }
            self = .builtin(b)
        case "op":
            try c.allow(["op", "args"])
            let name = try c.name("op")
            let args = try c.decode([Expr].self, forKey: "args")
            if let op = UnaryOp(rawValue: name) {
                guard args.count == 1 else { throw c.fail("args", "\(name) takes 1 argument, found \(args.count)", fix: "pass exactly one expression in args") }
                self = .unary(op, args[0])
            } else if let op = BinaryOp(rawValue: name) {
                guard args.count == 2 else { throw c.fail("args", "\(name) takes 2 arguments, found \(args.count)", fix: "pass exactly two expressions in args") }
                self = .binary(op, args[0], args[1])
            } else {
                throw c.fail("op", "unknown operator '\(name)'", fix: "use one of \((UnaryOp.allCases.map(\.rawValue) + BinaryOp.allCases.map(\.rawValue)).joined(separator: ", "))")
            }
        case "select":
            try c.allow(["select"])
            let args = try c.decode([Expr].self, forKey: "select")
            guard args.count == 3 else { throw c.fail("select", "select takes [condition, if_true, if_false], found \(args.count) items", fix: "pass three expressions") }
            self = .select(args[0], args[1], args[2])
        case "cast", "bitcast":
            try c.allow([kind, "value"])
            let t = try c.enumValue(kind, DataType.self, choices: DataType.allCases)
            self = kind == "cast" ? .cast(t, try c.expr("value")) : .bitcast(t, try c.expr("value"))
        case "fma":
            try c.allow(["fma"])
            let args = try c.decode([Expr].self, forKey: "fma")
            guard args.count == 3 else { throw c.fail("fma", "fma takes [a, b, c], found \(args.count) items", fix: "pass three expressions") }
            self = .fma(args[0], args[1], args[2])
        case "atomic":
            try c.allow(["atomic", "buffer", "index", "value"])
            self = .atomic(try c.enumValue("atomic", AtomicOp.self, choices: AtomicOp.allCases), try c.name("buffer"),
                           index: try c.expr("index"), value: try c.expr("value"))
        default:
            try c.allow(["compare_exchange", "index", "expected", "desired"])
            self = .compareExchange(try c.name("compare_exchange"), index: try c.expr("index"), expected: try c.expr("expected"), desired: try c.expr("desired"))
        }
    }

    private static func literal(_ c: KeyedDecodingContainer<JSONKey>, _ k: String) throws -> Value {
        let key = JSONKey(stringValue: k)
        switch k {
        case "u32": return .u32(try c.integer(k, UInt32.self))
        case "i32": return .i32(try c.integer(k, Int32.self))
        case "u64": return .u64(try c.integer(k, UInt64.self))
        case "i64": return .i64(try c.integer(k, Int64.self))
        case "bool": return .bool(try c.decode(Bool.self, forKey: key))
        case "f32_bits": return .f32(Float(bitPattern: try c.integer(k, UInt32.self)))
        case "f64_bits": return .f64(Double(bitPattern: try c.integer(k, UInt64.self)))
        case "f32":
            if let s = try? c.decode(String.self, forKey: key) {
                guard let v = Float(special: s) else { throw c.fail(k, "'\(s)' is not a float", fix: "write a number, or \"inf\", \"-inf\", \"nan\"") }
                return .f32(v)
            }
            return .f32(try c.decode(Float.self, forKey: key))
        default:
            if let s = try? c.decode(String.self, forKey: key) {
                guard let v = Double(special: s) else { throw c.fail(k, "'\(s)' is not a float", fix: "write a number, or \"inf\", \"-inf\", \"nan\"") }
                return .f64(v)
            }
            return .f64(try c.decode(Double.self, forKey: key))
        }
    }

    /// Writes the explicit JSON form, never the bare shorthands. Infinities and the plain NaN are
    /// written as "inf", "-inf" and "nan"; other floats that would not survive decimal text (NaN
    /// payloads, -0) as their bits, so every literal round-trips exactly.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        switch self {
        case .literal(let v):
            switch v {
            case .u32(let x): try c.encode(x, forKey: "u32")
            case .i32(let x): try c.encode(x, forKey: "i32")
            case .u64(let x): try c.encode(x, forKey: "u64")
            case .i64(let x): try c.encode(x, forKey: "i64")
            case .bool(let x): try c.encode(x, forKey: "bool")
            case .f32(let x):
                // Non-finite values, NaN payloads and values that would not survive a trip through
                // decimal text are written as bits, so every literal round-trips exactly.
                if x.isFinite, Float(x.description) == x, !(x == 0 && x.sign == .minus) { try c.encode(x, forKey: "f32") }
                else if let s = x.specialName { try c.encode(s, forKey: "f32") }
                else { try c.encode(x.bitPattern, forKey: "f32_bits") }
            case .f64(let x):
                if x.isFinite, Double(x.description) == x, !(x == 0 && x.sign == .minus) { try c.encode(x, forKey: "f64") }
                else if let s = x.specialName { try c.encode(s, forKey: "f64") }
                else { try c.encode(x.bitPattern, forKey: "f64_bits") }
            }
        case .variable(let n): try c.encode(n, forKey: "var")
        case .parameter(let n): try c.encode(n, forKey: "param")
        case .load(let m, let i): try c.encode(m, forKey: "load"); try c.encode(i, forKey: "index")
        case .length(let m): try c.encode(m, forKey: "length")
        case .builtin(let b): try c.encode(b.name, forKey: "builtin")
        case .unary(let op, let a): try c.encode(op.rawValue, forKey: "op"); try c.encode([a], forKey: "args")
        case .binary(let op, let a, let b): try c.encode(op.rawValue, forKey: "op"); try c.encode([a, b], forKey: "args")
        case .select(let x, let a, let b): try c.encode([x, a, b], forKey: "select")
        case .cast(let t, let a): try c.encode(t.rawValue, forKey: "cast"); try c.encode(a, forKey: "value")
        case .bitcast(let t, let a): try c.encode(t.rawValue, forKey: "bitcast"); try c.encode(a, forKey: "value")
        case .fma(let a, let b, let x): try c.encode([a, b, x], forKey: "fma")
        case .atomic(let op, let m, let i, let v):
            try c.encode(op.rawValue, forKey: "atomic"); try c.encode(m, forKey: "buffer"); try c.encode(i, forKey: "index"); try c.encode(v, forKey: "value")
        case .compareExchange(let m, let i, let x, let d):
            try c.encode(m, forKey: "compare_exchange"); try c.encode(i, forKey: "index"); try c.encode(x, forKey: "expected"); try c.encode(d, forKey: "desired")
        }
    }
}

extension BinaryFloatingPoint {
    /// "inf", "-inf" or "nan" (the quiet NaN with no payload), else nil.
    var specialName: String? {
        if isInfinite { return sign == .minus ? "-inf" : "inf" }
        if isNaN && self.bitPatternIsCanonicalNaN { return "nan" }
        return nil
    }

    /// "inf", "-inf" or "nan" as a value; nil for any other text.
    public init?(special: String) {
        switch special {
        case "inf": self = .infinity
        case "-inf": self = -.infinity
        case "nan": self = .nan
        default: return nil
        }
    }

    private var bitPatternIsCanonicalNaN: Bool {
        switch self {
        case let f as Float: return f.bitPattern == Float.nan.bitPattern
        case let d as Double: return d.bitPattern == Double.nan.bitPattern
        default: return false
        }
    }
}
