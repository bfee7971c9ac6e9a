extension Program {
    /// Every problem that makes this program invalid for `limits`, in program order.
    public func validationErrors(limits: Limits = .gl43) -> [ValidationError] {
        var v = Validator(program: self, limits: limits)
        v.run()
        return v.errors
    }

    /// Throws all problems at once when the program is invalid for `limits`.
    public func validate(limits: Limits = .gl43) throws(ValidationFailure) {
        let errors = validationErrors(limits: limits)
        if !errors.isEmpty { throw ValidationFailure(errors: errors) }
    }
}

/// Names of variables, memories and tags: a letter, then letters, digits or single underscores, at
/// most 64 characters. Generated code prefixes every name, so no IR name can collide with a GLSL
/// keyword or built-in.
public enum Identifier {
    /// Whether `name` may name a variable, memory, tag or parameter. O(n) in its length.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), isLetter(bytes[0]) else { return false }
        var previousUnderscore = false
        for b in bytes {
            let underscore = b == UInt8(ascii: "_")
            guard isLetter(b) || (b >= 0x30 && b <= 0x39) || underscore else { return false }
            if underscore && previousUnderscore { return false }
            previousUnderscore = underscore
        }
        return true
    }

    /// Region names are free text for diagnostics: 1 to 128 characters of any script, but no
    /// control characters (they would reach terminals through error messages). The lowering
    /// writes them into comments in a form that cannot break the source (see `Writer.commentText`).
    public static func isValidRegionName(_ name: String) -> Bool {
        let scalars = name.unicodeScalars
        return (1...128).contains(scalars.count) && !scalars.contains { $0.properties.generalCategory == .control }
    }

    private static func isLetter(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }
}

/// Walks a program once per statement (twice for loop bodies, see ``checkLoop``), recording errors.
struct Validator {
    let program: Program
    let limits: Limits
    var errors: [ValidationError] = []
    /// The type of every expression checked, by path (see ``ProgramAnalysis/types``).
    var types: [String: DataType] = [:]

    private struct Variable {
        var type: DataType
        var uniform: Bool
        var isLoopVariable: Bool
    }

    private struct LoopFrame { var diverged = false }

    private var scopes = Scopes<Variable>()
    private var loops: [LoopFrame] = []
    private var uniformControl = true
    private var exitedNonUniformly = false
    private var startedTags: Set<String> = []
    /// While > 0, errors are not recorded (a probing pass over a loop body).
    private var muted = 0

    init(program: Program, limits: Limits) {
        self.program = program
        self.limits = limits
    }

    private mutating func report(_ kind: ValidationError.Kind, _ path: String, _ problem: String, fix: String) {
        if muted == 0 { errors.append(ValidationError(kind, at: path, problem, fix: fix)) }
    }

    mutating func run() {
        checkDeclarations()
        checkShape()
        checkBody(program.entry, path: "entry")
    }

    // MARK: declarations

    private mutating func checkDeclarations() {
        var names: Set<String> = []
        var bindings: [UInt32: String] = [:]
        for (i, b) in program.buffers.enumerated() {
            let path = "buffers[\(i)]"
            checkMemoryName(b.name, "buffer name", duplicate: "is declared twice", path, &names)
            if let other = bindings[b.binding] {
                report(.duplicateBinding, path, "binding \(b.binding) of '\(quoteForMessage(b.name))' is already used by '\(quoteForMessage(other))'", fix: "give every buffer its own binding")
            } else {
                bindings[b.binding] = b.name
            }
            if b.binding >= limits.maxBindings {
                report(.bindingOutOfRange, path, "binding \(b.binding) of '\(quoteForMessage(b.name))' is beyond this target's \(limits.maxBindings) binding points", fix: "use bindings 0 to \(limits.maxBindings - 1)")
            }
            if let count = b.count {
                let bytes = UInt64(count) * UInt64(b.elementType.byteCount)
                if count == 0 {
                    report(.invalidSize, path, "buffer '\(quoteForMessage(b.name))' has a fixed count of 0", fix: "give it at least one element, or leave count out for a runtime-sized buffer")
                } else if bytes > limits.maxStorageBlockBytes {
                    report(.invalidSize, path, "buffer '\(quoteForMessage(b.name))' needs \(bytes) bytes, this target allows \(limits.maxStorageBlockBytes) per buffer", fix: "split the data across buffers or shrink it")
                }
            }
            checkType(b.elementType, path)
        }
        if program.buffers.count > Int(limits.maxStorageBuffers) {
            report(.tooManyBuffers, "buffers", "program binds \(program.buffers.count) buffers, this target allows \(limits.maxStorageBuffers)", fix: "merge buffers, or run on a device with more storage blocks")
        }
        var sharedBytes: UInt64 = 0
        for (i, s) in program.shared.enumerated() {
            let path = "shared[\(i)]"
            checkMemoryName(s.name, "shared array name", duplicate: "is already declared", path, &names)
            if s.count == 0 {
                report(.invalidSize, path, "shared array '\(quoteForMessage(s.name))' has 0 elements", fix: "give it at least one element")
            }
            sharedBytes += s.byteCount
            checkType(s.elementType, path)
        }
        if sharedBytes > UInt64(limits.maxSharedMemoryBytes) {
            report(.sharedMemoryLimit, "shared", "program needs \(sharedBytes) bytes of shared memory, this target allows \(limits.maxSharedMemoryBytes)", fix: "use smaller shared arrays or keep data in buffers")
        }
        let w = program.workgroupSize
        let max = limits.maxWorkgroupSize
        for axis in Axis.allCases where w[axis] == 0 || w[axis] > max[axis] {
            report(.workgroupSizeLimit, "workgroupSize.\(axis.name)", "workgroup size \(axis.name) is \(w[axis]), this target allows 1 to \(max[axis])", fix: "choose a workgroup size within the device's limits")
        }
        if w.invocations > UInt64(limits.maxWorkgroupInvocations) {
            report(.workgroupSizeLimit, "workgroupSize", "program needs \(w.invocations) invocations per workgroup (\(w)), this target allows \(limits.maxWorkgroupInvocations)", fix: "use a smaller workgroup and more workgroups")
        }
    }

    /// A buffer's or shared array's name: an identifier, and not the name of another memory.
    private mutating func checkMemoryName(_ name: String, _ what: String, duplicate: String, _ path: String, _ names: inout Set<String>) {
        if !Identifier.isValid(name) {
            report(.invalidName, path, "\(what) '\(quoteForMessage(name))' is not a valid identifier", fix: "use 1 to 64 letters, digits and single underscores, starting with a letter")
        }
        if !names.insert(name).inserted {
            report(.duplicateMemory, path, "\(what) '\(quoteForMessage(name))' \(duplicate)", fix: "give every buffer and shared array its own name")
        }
    }

    private mutating func checkType(_ t: DataType, _ path: String) {
        if let cap = t.requiredCapability, !limits.capabilities.contains(cap) {
            report(.missingCapability, path, "type \(t) needs the \(cap.rawValue) capability, which this target lacks", fix: "use a 32-bit type, or run on a device that reports \(cap.rawValue)")
        }
    }

    // MARK: size and depth

    private mutating func checkShape() {
        var shape = Shape(maxDepth: limits.maxNestingDepth)
        program.walk(&shape)
        if let d = shape.deepest {
            report(.nestingTooDeep, d.path, "nesting depth exceeds \(limits.maxNestingDepth)", fix: "move deep expressions into variables and split nested loops into sequential steps")
        }
        if shape.size > limits.maxProgramSize {
            report(.programTooLarge, "entry", "program has \(shape.size) statements and expressions, the limit is \(limits.maxProgramSize)", fix: "split the work into several programs")
        }
    }

    /// Counts statements and expressions and finds the first place nested too deep: a statement,
    /// or the statement's expression that holds the deep sub-expression (its full path would
    /// repeat a label once per level).
    private struct Shape: ProgramVisitor {
        let maxDepth: Int
        var size = 0
        var deepest: (depth: Int, path: String)? = nil
        private var nodeDepth = 0
        private var expressionRoot = ""

        init(maxDepth: Int) { self.maxDepth = maxDepth }

        mutating func visit(_ node: Node, at path: String, depth: Int) {
            nodeDepth = depth
            count(depth, path)
        }

        mutating func visit(_ expr: Expr, at path: String, depth: Int) {
            if depth == nodeDepth + 1 { expressionRoot = path }
            count(depth, expressionRoot)
        }

        private mutating func count(_ depth: Int, _ path: String) {
            size += 1
            if depth > maxDepth, deepest == nil { deepest = (depth, path) }
        }
    }

    // MARK: statements

    private var controlIsUniform: Bool {
        uniformControl && !exitedNonUniformly && loops.allSatisfy { !$0.diverged }
    }

    private func lookup(_ name: String) -> Variable? { scopes[name] }

    private mutating func checkBody(_ nodes: [Node], path: String) {
        scopes.push()
        for (i, node) in nodes.enumerated() { check(node, path: "\(path)[\(i)]") }
        scopes.pop()
    }

    private mutating func declare(_ name: String, _ type: DataType, uniform: Bool, loopVariable: Bool, path: String) {
        if !Identifier.isValid(name) {
            report(.invalidName, path, "variable name '\(quoteForMessage(name))' is not a valid identifier", fix: "use 1 to 64 letters, digits and single underscores, starting with a letter")
        }
        if lookup(name) != nil {
            report(.duplicateVariable, path, "variable '\(quoteForMessage(name))' is already defined in this scope or an enclosing one", fix: "choose another name, or assign to the existing variable")
        }
        scopes.declare(name, Variable(type: type, uniform: uniform, isLoopVariable: loopVariable))
    }

    private mutating func check(_ node: Node, path: String) {
        switch node {
        case .let(let name, let value):
            let t = type(of: value, path: "\(path).\(PathLabel.value)")
            declare(name, t ?? .u32, uniform: controlIsUniform && isUniform(value), loopVariable: false, path: path)
        case .assign(let name, let value):
            let t = type(of: value, path: "\(path).\(PathLabel.value)")
            guard let v = lookup(name) else {
                report(.undefinedVariable, path, "assignment to undefined variable '\(quoteForMessage(name))'", fix: "declare it with a let first")
                return
            }
            if v.isLoopVariable {
                report(.assignToLoopVariable, path, "loop variable '\(quoteForMessage(name))' is assigned inside its loop", fix: "copy it into a new variable and change that; for-loops stay bounded only if their variable is not assigned")
            }
            if let t, t != v.type {
                report(.typeMismatch, "\(path).\(PathLabel.value)", "variable '\(quoteForMessage(name))' is \(v.type), the assigned value is \(t)", fix: "cast the value to \(v.type)")
            }
            let uniform = controlIsUniform && isUniform(value)
            if !uniform { scopes.update(name) { $0.uniform = false } }
        case .store(let name, let index, let value):
            let idx = type(of: index, path: "\(path).\(PathLabel.index)")
            let t = type(of: value, path: "\(path).\(PathLabel.value)")
            expect(idx, .u32, "\(path).\(PathLabel.index)", "a store index")
            if let m = memory(name) {
                if !m.access.canWrite {
                    report(.storeToReadOnly, path, "store into read-only buffer '\(quoteForMessage(name))'", fix: "declare '\(quoteForMessage(name))' with access read_write or write")
                }
                if let t, t != m.type {
                    report(.typeMismatch, "\(path).\(PathLabel.value)", "'\(quoteForMessage(name))' holds \(m.type), the stored value is \(t)", fix: "cast the value to \(m.type)")
                }
            } else {
                report(.unknownMemory, path, "store into unknown buffer or shared array '\(quoteForMessage(name))'", fix: "declare '\(quoteForMessage(name))' or fix the name")
            }
        case .if(let condition, let thenBody, let elseBody):
            expect(type(of: condition, path: "\(path).\(PathLabel.ifCondition)"), .bool, "\(path).\(PathLabel.ifCondition)", "an if condition")
            let saved = uniformControl
            uniformControl = saved && isUniform(condition)
            checkBody(thenBody, path: "\(path).\(PathLabel.then)")
            checkBody(elseBody, path: "\(path).\(PathLabel.else)")
            uniformControl = saved
        case .for(let name, let from, let to, let body):
            let tf = type(of: from, path: "\(path).\(PathLabel.from)")
            let tt = type(of: to, path: "\(path).\(PathLabel.to)")
            if let tf, let tt, tf != tt || !(tf == .u32 || tf == .i32) {
                report(.typeMismatch, path, "for-loop bounds must both be u32 or both i32, found \(tf) and \(tt)", fix: "cast the bounds")
            }
            let header = isUniform(from) && isUniform(to)
            checkLoop(body, path: "\(path).\(PathLabel.body)", headerUniform: header) { v in
                v.scopes.push()
                v.declare(name, tf ?? .u32, uniform: header && v.controlIsUniform, loopVariable: true, path: path)
            }
        case .while(let condition, let maxIterations, let body):
            expect(type(of: maxIterations, path: "\(path).\(PathLabel.maxIterations)"), .u32, "\(path).\(PathLabel.maxIterations)", "a loop bound")
            expect(type(of: condition, path: "\(path).\(PathLabel.whileCondition)"), .bool, "\(path).\(PathLabel.whileCondition)", "a while condition")
            checkLoop(body, path: "\(path).\(PathLabel.body)", headerUniform: isUniform(condition) && isUniform(maxIterations), prologue: nil)
        case .forever(let body):
            checkLoop(body, path: "\(path).\(PathLabel.forever)", headerUniform: true, prologue: nil)
        case .block(let body):
            checkBody(body, path: "\(path).\(PathLabel.block)")
        case .region(let name, let body):
            if !Identifier.isValidRegionName(name) {
                report(.invalidName, path, "region name is empty, longer than 128 characters or holds a control character", fix: "use a short one-line name")
            }
            checkBody(body, path: "\(path).\(PathLabel.body)")
        case .return:
            if !controlIsUniform { exitedNonUniformly = true }
        case .break, .continue:
            if loops.isEmpty {
                report(.breakOutsideLoop, path, "\(node == .break ? "break" : "continue") outside a loop", fix: "use return to end the invocation")
            } else if !controlIsUniform {
                loops[loops.count - 1].diverged = true
            }
        case .barrier(let kind):
            if kind == .workgroup && !controlIsUniform {
                report(.nonUniformBarrier, path, "workgroup barrier under control flow that can differ between invocations of a workgroup", fix: "move the barrier out of branches and loops whose condition depends on invocation ids or loaded data, and out of code after a divergent return or break, so every invocation reaches it")
            }
        case .asyncLoad(let copy), .asyncStore(let copy):
            checkCopy(copy, isLoad: node == .asyncLoad(copy), path: path)
        case .asyncWait(let tag):
            if !startedTags.contains(tag) {
                report(.unknownAsyncTag, path, "wait for async tag '\(quoteForMessage(tag))' that no earlier async_load or async_store starts", fix: "start a copy with this tag before waiting, or fix the tag")
            }
        case .trap(let code):
            expect(type(of: code, path: "\(path).\(PathLabel.trapCode)"), .u32, "\(path).\(PathLabel.trapCode)", "a trap code")
            if !controlIsUniform { exitedNonUniformly = true }
        }
    }

    /// Checks a loop body. A first, silent pass finds what the body does to uniformity (a divergent
    /// break, a variable that becomes non-uniform and is used by the next iteration); the second
    /// pass records errors with that knowledge. Nested loops probe only in the recording pass, so the
    /// cost stays linear in nesting depth.
    private mutating func checkLoop(_ body: [Node], path: String, headerUniform: Bool, prologue: ((inout Validator) -> Void)?) {
        let savedControl = uniformControl
        uniformControl = savedControl && headerUniform
        var divergedInProbe = false
        if muted == 0 {
            muted += 1
            loops.append(LoopFrame())
            if let prologue { prologue(&self) }
            checkBody(body, path: path)
            if prologue != nil { scopes.pop() }
            divergedInProbe = loops.removeLast().diverged
            muted -= 1
        }
        loops.append(LoopFrame(diverged: divergedInProbe))
        if let prologue { prologue(&self) }
        checkBody(body, path: path)
        if prologue != nil { scopes.pop() }
        loops.removeLast()
        uniformControl = savedControl
    }

    private mutating func checkCopy(_ c: AsyncCopy, isLoad: Bool, path: String) {
        if !Identifier.isValid(c.tag) {
            report(.invalidName, path, "async tag '\(quoteForMessage(c.tag))' is not a valid identifier", fix: "use 1 to 64 letters, digits and single underscores, starting with a letter")
        }
        startedTags.insert(c.tag)
        for (label, e) in c.labeledOffsets(isLoad: isLoad) {
            expect(type(of: e, path: "\(path).\(label)"), .u32, "\(path).\(label)", "an async copy \(label.split(separator: ".").last!.split(separator: "_").joined(separator: " "))")
        }
        let src = memory(c.source)
        let dst = memory(c.destination)
        if src == nil {
            report(.unknownMemory, path, "async copy source '\(quoteForMessage(c.source))' is not declared", fix: "declare it or fix the name")
        }
        if dst == nil {
            report(.unknownMemory, path, "async copy destination '\(quoteForMessage(c.destination))' is not declared", fix: "declare it or fix the name")
        }
        guard let src, let dst else { return }
        if !src.access.canRead {
            report(.loadFromWriteOnly, path, "async copy reads write-only buffer '\(quoteForMessage(c.source))'", fix: "declare it read_write")
        }
        if !dst.access.canWrite {
            report(.storeToReadOnly, path, "async copy writes read-only buffer '\(quoteForMessage(c.destination))'", fix: "declare it read_write or write")
        }
        if src.type != dst.type {
            report(.invalidAsyncCopy, path, "async copy from \(src.type) elements to \(dst.type) elements", fix: "copy between memories of one element type")
        }
        if isLoad && src.isShared {
            report(.invalidAsyncCopy, path, "async_load must read a buffer, '\(quoteForMessage(c.source))' is a shared array", fix: "use async_store to copy out of shared memory")
        }
        if !isLoad && dst.isShared {
            report(.invalidAsyncCopy, path, "async_store must write a buffer, '\(quoteForMessage(c.destination))' is a shared array", fix: "use async_load to copy into shared memory")
        }
    }

    // MARK: expressions

    private func memory(_ name: String) -> (type: DataType, access: BufferAccess, isShared: Bool)? {
        environment.memory(name)
    }

    private var environment: TypeEnvironment {
        let scopes = self.scopes
        return TypeEnvironment(program: program) { scopes[$0]?.type }
    }

    private mutating func expect(_ t: DataType?, _ want: DataType, _ path: String, _ what: String) {
        if let t, t != want {
            report(.typeMismatch, path, "\(what) must be \(want), found \(t)", fix: "cast the value to \(want)")
        }
    }

    /// Infers the type, reporting the first type rule the expression breaks and any type that needs
    /// a missing capability. Nil when the expression is ill-typed.
    private mutating func type(of expr: Expr, path: String) -> DataType? {
        checkCapabilities(expr, path)
        do {
            return try Typing.infer(expr, in: environment, at: path, recording: &types)
        } catch {
            let kind: ValidationError.Kind = switch error.kind {
            case .undefinedVariable: .undefinedVariable
            case .unknownMemory: .unknownMemory
            case .typeMismatch: .typeMismatch
            case .loadFromWriteOnly: .loadFromWriteOnly
            case .storeToReadOnly: .storeToReadOnly
            case .invalidAtomic: .invalidAtomic
            case .unsupportedOperation: .unsupportedOperation
            }
            report(kind, path + error.subpath, error.problem, fix: error.fix)
            return nil
        }
    }

    private mutating func checkCapabilities(_ expr: Expr, _ path: String) {
        switch expr {
        case .literal(let v): checkType(v.type, path)
        case .cast(let t, _), .bitcast(let t, _): checkType(t, path)
        default: break
        }
        for c in expr.children { checkCapabilities(c, path) }
    }

    /// Whether every invocation of a workgroup computes the same value (conservative).
    private func isUniform(_ expr: Expr) -> Bool {
        switch expr {
        case .literal, .length, .parameter: return true
        case .builtin(let b): return b.isWorkgroupUniform
        case .variable(let name): return lookup(name)?.uniform ?? false
        case .load(let name, let index):
            guard let b = program.buffer(named: name), b.access == .readOnly, b.placement == .deviceLocal else { return false }
            return isUniform(index)
        case .atomic, .compareExchange: return false
        default: return expr.children.allSatisfy(isUniform)
        }
    }
}
