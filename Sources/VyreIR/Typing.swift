/// A type rule that an expression breaks, found while inferring its type.
public struct TypeIssue: DiagnosticError, Sendable, Hashable {
    /// The rule broken, named as in ``ValidationError/Kind``.
    public enum Kind: String, Sendable, Hashable {
        case undefinedVariable, unknownMemory, typeMismatch, loadFromWriteOnly, storeToReadOnly
        case invalidAtomic, unsupportedOperation
    }
    public var kind: Kind
    /// Path from the expression's root to the offending sub-expression (e.g. `.lhs.index`).
    public var subpath: String
    public var problem: String
    public var fix: String

    public var diagnostics: [Diagnostic] { [Diagnostic(problem, at: subpath.isEmpty ? nil : subpath, fix: fix)] }
}

/// What an expression can see while its type is inferred: variables in scope and declared memories.
public struct TypeEnvironment {
    /// The type of the variable of that name in scope, or nil when none is visible.
    public var variable: (String) -> DataType?
    public var program: Program

    /// An environment over `program`'s buffers and shared arrays; `variable` answers for names in
    /// scope and is called on every variable the inference meets.
    public init(program: Program, variable: @escaping (String) -> DataType?) {
        self.program = program
        self.variable = variable
    }

    /// The element type and access of a buffer or shared array (shared arrays are read-write).
    public func memory(_ name: String) -> (type: DataType, access: BufferAccess, isShared: Bool)? {
        if let b = program.buffer(named: name) { return (b.elementType, b.access, false) }
        if let s = program.sharedArray(named: name) { return (s.elementType, .readWrite, true) }
        return nil
    }
}

/// Type inference: the single place that states which operand types each operator accepts.
public enum Typing {
    /// The type of `expr`, or the first rule it breaks.
    public static func infer(_ expr: Expr, in env: TypeEnvironment) throws(TypeIssue) -> DataType {
        var none: Recorder? = nil
        return try infer(expr, env, "", &none)
    }

    /// As ``infer(_:in:)``, also recording the type of every sub-expression in `types` under
    /// `root` followed by its subpath (the validator's pass that builds ``ProgramAnalysis/types``).
    static func infer(_ expr: Expr, in env: TypeEnvironment, at root: String, recording types: inout [String: DataType]) throws(TypeIssue) -> DataType {
        var recorder: Recorder? = Recorder(root: root, types: types)
        // The recorder holds the only reference while it records, so no insert copies the table.
        types = [:]
        defer { types = recorder!.types }
        return try infer(expr, env, "", &recorder)
    }

    struct Recorder {
        var root: String
        var types: [String: DataType]
    }

    private static func infer(_ expr: Expr, _ env: TypeEnvironment, _ path: String, _ recorder: inout Recorder?) throws(TypeIssue) -> DataType {
        let t = try inferNode(expr, env, path, &recorder)
        if recorder != nil { recorder!.types[recorder!.root + path] = t }
        return t
    }

    private static func issue(_ kind: TypeIssue.Kind, _ path: String, _ problem: String, _ fix: String) -> TypeIssue {
        TypeIssue(kind: kind, subpath: path, problem: problem, fix: fix)
    }

    private static func readable(_ name: String, _ env: TypeEnvironment, _ path: String) throws(TypeIssue) -> DataType {
        guard let m = env.memory(name) else {
            throw issue(.unknownMemory, path, "unknown buffer or shared array '\(quoteForMessage(name))'", "declare '\(quoteForMessage(name))' in the program's buffers or shared arrays, or fix the name")
        }
        guard m.access.canRead else {
            throw issue(.loadFromWriteOnly, path, "buffer '\(quoteForMessage(name))' is write-only and cannot be read", "declare '\(quoteForMessage(name))' with access read_write")
        }
        return m.type
    }

    private static func expect(_ t: DataType, _ want: DataType, _ path: String, _ what: String) throws(TypeIssue) {
        if t != want {
            throw issue(.typeMismatch, path, "\(what) must be \(want), found \(t)", "cast the value with {\"cast\": \"\(want)\", ...}")
        }
    }

    private static func inferNode(_ expr: Expr, _ env: TypeEnvironment, _ path: String, _ recorder: inout Recorder?) throws(TypeIssue) -> DataType {
        switch expr {
        case .literal(let v):
            return v.type
        case .variable(let name):
            guard let t = env.variable(name) else {
                throw issue(.undefinedVariable, path, "variable '\(quoteForMessage(name))' is not defined here", "declare it with a let before this use, in this body or an enclosing one")
            }
            return t
        case .load(let name, let index):
            let t = try readable(name, env, path)
            try expect(try infer(index, env, path + "." + PathLabel.index, &recorder), .u32, path + "." + PathLabel.index, "an index")
            return t
        case .length(let name):
            guard env.memory(name) != nil else {
                throw issue(.unknownMemory, path, "unknown buffer or shared array '\(quoteForMessage(name))'", "declare '\(quoteForMessage(name))' or fix the name")
            }
            return .u32
        case .builtin:
            return .u32
        case .parameter(let name):
            guard Identifier.isValid(name) else {
                throw issue(.typeMismatch, path, "parameter name '\(quoteForMessage(name))' is not a valid identifier", "use 1 to 64 letters, digits and single underscores, starting with a letter")
            }
            return .u32
        case .unary(let op, let a):
            let t = try infer(a, env, path + "." + PathLabel.argument(0), &recorder)
            return try unaryResult(op, t, path)
        case .binary(let op, let a, let b):
            let ta = try infer(a, env, path + "." + PathLabel.argument(0), &recorder)
            let tb = try infer(b, env, path + "." + PathLabel.argument(1), &recorder)
            return try binaryResult(op, ta, tb, path)
        case .select(let c, let a, let b):
            try expect(try infer(c, env, path + "." + PathLabel.select(0), &recorder), .bool, path + "." + PathLabel.select(0), "a select condition")
            let ta = try infer(a, env, path + "." + PathLabel.select(1), &recorder)
            let tb = try infer(b, env, path + "." + PathLabel.select(2), &recorder)
            guard ta == tb else {
                throw issue(.typeMismatch, path, "select arms have different types \(ta) and \(tb)", "cast one arm so both have the same type")
            }
            return ta
        case .cast(let to, let a):
            _ = try infer(a, env, path + "." + PathLabel.value, &recorder)
            return to
        case .bitcast(let to, let a):
            let t = try infer(a, env, path + "." + PathLabel.value, &recorder)
            guard t != .bool, to != .bool, t.wordCount == to.wordCount else {
                throw issue(.typeMismatch, path, "cannot bitcast \(t) to \(to): bitcasts need two non-bool types of the same width", "use cast for a value conversion")
            }
            return to
        case .fma(let a, let b, let c):
            let ta = try infer(a, env, path + "." + PathLabel.fma(0), &recorder)
            let tb = try infer(b, env, path + "." + PathLabel.fma(1), &recorder)
            let tc = try infer(c, env, path + "." + PathLabel.fma(2), &recorder)
            guard ta.isFloat, ta == tb, tb == tc else {
                throw issue(.typeMismatch, path, "fma needs three operands of one float type, found \(ta), \(tb), \(tc)", "cast the operands to f32 (or f64)")
            }
            return ta
        case .atomic(_, let name, let index, let value):
            let t = try atomicTarget(name, env, path)
            try expect(try infer(index, env, path + "." + PathLabel.index, &recorder), .u32, path + "." + PathLabel.index, "an index")
            try expect(try infer(value, env, path + "." + PathLabel.value, &recorder), t, path + "." + PathLabel.value, "the atomic operand")
            return t
        case .compareExchange(let name, let index, let expected, let desired):
            let t = try atomicTarget(name, env, path)
            try expect(try infer(index, env, path + "." + PathLabel.index, &recorder), .u32, path + "." + PathLabel.index, "an index")
            try expect(try infer(expected, env, path + "." + PathLabel.expected, &recorder), t, path + "." + PathLabel.expected, "the expected value")
            try expect(try infer(desired, env, path + "." + PathLabel.desired, &recorder), t, path + "." + PathLabel.desired, "the desired value")
            return t
        }
    }

    private static func atomicTarget(_ name: String, _ env: TypeEnvironment, _ path: String) throws(TypeIssue) -> DataType {
        guard let m = env.memory(name) else {
            throw issue(.unknownMemory, path, "unknown buffer or shared array '\(quoteForMessage(name))'", "declare '\(quoteForMessage(name))' or fix the name")
        }
        guard m.access == .readWrite else {
            throw issue(.invalidAtomic, path, "atomics need a read_write buffer, '\(quoteForMessage(name))' is \(m.access.rawValue)", "declare '\(quoteForMessage(name))' with access read_write")
        }
        guard m.type == .u32 || m.type == .i32 else {
            throw issue(.invalidAtomic, path, "atomics work on u32 or i32 elements, '\(quoteForMessage(name))' holds \(m.type)", "keep counters in a u32 or i32 buffer")
        }
        return m.type
    }

    static func unaryResult(_ op: UnaryOp, _ t: DataType, _ path: String) throws(TypeIssue) -> DataType {
        func bad(_ what: String, _ fix: String, _ kind: TypeIssue.Kind = .typeMismatch) -> TypeIssue {
            issue(kind, path + "." + PathLabel.argument(0), "\(op.rawValue) needs \(what), found \(t)", fix)
        }
        switch op {
        case .negate:
            guard t.isNumeric else { throw bad("a number", "negate numbers only; use not for bool") }
            return t
        case .not:
            guard t == .bool else { throw bad("a bool", "use bit_not for integers") }
            return t
        case .bitNot:
            guard t.isInteger else { throw bad("an integer", "use not for bool") }
            return t
        case .popcount, .countLeadingZeros, .countTrailingZeros:
            guard t == .u32 || t == .i32 else { throw bad("a 32-bit integer", "split 64-bit values into two u32 halves first", t.is64Bit ? .unsupportedOperation : .typeMismatch) }
            return .u32
        case .reverseBits:
            guard t == .u32 || t == .i32 else { throw bad("a 32-bit integer", "split 64-bit values into two u32 halves first", t.is64Bit ? .unsupportedOperation : .typeMismatch) }
            return t
        case .abs:
            guard t.isSignedInteger || t.isFloat else { throw bad("a signed integer or float", "abs of an unsigned value is the value itself") }
            return t
        default:
            guard t.isFloat else { throw bad("a float", "cast the operand to f32") }
            if op.isF32Only && t != .f32 {
                throw bad("an f32 (GLSL 4.30 has no \(op.rawValue) for doubles)", "cast the operand to f32", .unsupportedOperation)
            }
            return t
        }
    }

    static func binaryResult(_ op: BinaryOp, _ a: DataType, _ b: DataType, _ path: String) throws(TypeIssue) -> DataType {
        func bad(_ what: String, _ fix: String) -> TypeIssue {
            issue(.typeMismatch, path, "\(op.rawValue) needs \(what), found \(a) and \(b)", fix)
        }
        switch op {
        case .shl, .shr:
            guard a.isInteger, b == .u32 else { throw bad("an integer and a u32 shift count", "cast the shift count to u32") }
            return a
        case .logicalAnd, .logicalOr:
            guard a == .bool, b == .bool else { throw bad("two bools", "compare values to get bools, or use and/or on integers") }
            return .bool
        case .eq, .ne:
            guard a == b else { throw bad("two operands of one type", "cast one operand") }
            return .bool
        case .lt, .le, .gt, .ge:
            guard a == b, a.isNumeric else { throw bad("two numbers of one type", "cast one operand") }
            return .bool
        case .and, .or, .xor:
            guard a == b, a.isInteger else { throw bad("two integers of one type", "use logical_and/logical_or for bools") }
            return a
        case .rem:
            guard a == b, a.isInteger else { throw bad("two integers of one type", "for floats compute a - b * trunc(a / b)") }
            return a
        case .add, .sub, .mul, .div, .min, .max:
            guard a == b, a.isNumeric else { throw bad("two numbers of one type", "cast one operand so both have the same type") }
            return a
        }
    }
}
