import Testing
import VyreIR

/// One program per kind of validation error, each asserting the node path and the Fix hint.
struct ValidationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var kind: ValidationError.Kind
        var program: Program
        var path: String
        var fixMentions: String
        var limits: Limits = .gl43
        var testDescription: String { kind.rawValue }
    }

    static let rw = BufferDecl("data", binding: 0, access: .readWrite, type: .u32, count: 16)
    static let ro = BufferDecl("input", binding: 1, access: .readOnly, type: .u32, count: 16)

    static func program(_ buffers: [BufferDecl] = [rw, ro], shared: [SharedDecl] = [], size: WorkgroupSize = WorkgroupSize(4), @NodeBuilder _ entry: () -> [Node]) -> Program {
        Program(buffers: buffers, shared: shared, workgroupSize: size, entry: entry)
    }

    static func make(_ kind: ValidationError.Kind) -> Case {
        switch kind {
        case .invalidName:
            return Case(kind: kind, program: program { Node.let("2x", 1) }, path: "entry[0]", fixMentions: "letters")
        case .duplicateMemory:
            return Case(kind: kind, program: program([rw, BufferDecl("data", binding: 3, access: .readOnly, type: .u32)]) {}, path: "buffers[1]", fixMentions: "own name")
        case .duplicateBinding:
            return Case(kind: kind, program: program([rw, BufferDecl("other", binding: 0, access: .readOnly, type: .u32)]) {}, path: "buffers[1]", fixMentions: "own binding")
        case .bindingOutOfRange:
            return Case(kind: kind, program: program([BufferDecl("far", binding: 9, access: .readOnly, type: .u32)]) {}, path: "buffers[0]", fixMentions: "bindings 0 to 7")
        case .tooManyBuffers:
            let many = (0..<9).map { BufferDecl("b\($0)", binding: UInt32($0), access: .readOnly, type: .u32) }
            var limits = Limits.gl43
            limits.maxBindings = 16
            return Case(kind: kind, program: program(many) {}, path: "buffers", fixMentions: "merge buffers", limits: limits)
        case .invalidSize:
            return Case(kind: kind, program: program([BufferDecl("empty", binding: 0, access: .readOnly, type: .u32, count: 0)]) {}, path: "buffers[0]", fixMentions: "at least one element")
        case .workgroupSizeLimit:
            return Case(kind: kind, program: program(size: WorkgroupSize(64, 32)) {}, path: "workgroupSize", fixMentions: "smaller workgroup")
        case .sharedMemoryLimit:
            return Case(kind: kind, program: program(shared: [SharedDecl("big", type: .u32, count: 10_000)]) {}, path: "shared", fixMentions: "smaller shared arrays")
        case .missingCapability:
            return Case(kind: kind, program: program { Node.let("wide", .u64(1)) }, path: "entry[0].value", fixMentions: "32-bit type")
        case .undefinedVariable:
            return Case(kind: kind, program: program { Node.store("data", at: 0, "nowhere") }, path: "entry[0].value", fixMentions: "declare it")
        case .duplicateVariable:
            return Case(kind: kind, program: program { Node.let("x", 1); Node.if(true) { Node.let("x", 2) } }, path: "entry[1].then[0]", fixMentions: "another name")
        case .assignToLoopVariable:
            return Case(kind: kind, program: program { Node.for("k", from: 0, to: 4) { Node.assign("k", 9) } }, path: "entry[0].body[0]", fixMentions: "bounded")
        case .unknownMemory:
            return Case(kind: kind, program: program { Node.store("missing", at: 0, 1) }, path: "entry[0]", fixMentions: "declare 'missing'")
        case .typeMismatch:
            return Case(kind: kind, program: program { Node.let("x", 1); Node.if(true) { Node.store("data", at: 0, .i32(-1) + "x") } }, path: "entry[1].then[0].value", fixMentions: "same type")
        case .storeToReadOnly:
            return Case(kind: kind, program: program { Node.store("input", at: 0, 1) }, path: "entry[0]", fixMentions: "read_write")
        case .loadFromWriteOnly:
            let wo = BufferDecl("sink", binding: 2, access: .writeOnly, type: .u32, count: 4)
            return Case(kind: kind, program: program([rw, wo]) { Node.store("data", at: 0, .load("sink", at: 0)) }, path: "entry[0].value", fixMentions: "read_write")
        case .invalidAtomic:
            return Case(kind: kind, program: program { Node.let("old", .atomic(.add, "input", at: 0, 1)) }, path: "entry[0].value", fixMentions: "read_write")
        case .unsupportedOperation:
            return Case(kind: kind, program: program { Node.let("e", Expr.f64(1).apply(.exp)) }, path: "entry[0].value.args[0]", fixMentions: "f32", limits: .unrestricted)
        case .breakOutsideLoop:
            return Case(kind: kind, program: program { Node.if(true) { Node.break } }, path: "entry[0].then[0]", fixMentions: "return")
        case .nonUniformBarrier:
            return Case(kind: kind, program: program { Node.if(.localID(.x) < 2) { Node.barrier(.workgroup) } }, path: "entry[0].then[0]", fixMentions: "every invocation")
        case .unknownAsyncTag:
            return Case(kind: kind, program: program { Node.asyncWait("never") }, path: "entry[0]", fixMentions: "start a copy")
        case .invalidAsyncCopy:
            let copy = AsyncCopy(tag: "t", source: "data", sourceOffset: 0, destination: "tile", destinationOffset: 0, count: 4)
            return Case(kind: kind, program: program(shared: [SharedDecl("tile", type: .u32, count: 4)]) { Node.asyncStore(copy) }, path: "entry[0]", fixMentions: "async_load")
        case .nestingTooDeep:
            var e: Expr = 1
            for _ in 0..<70 { e = e + 1 }
            return Case(kind: kind, program: program { Node.let("deep", e) }, path: "entry[0].value", fixMentions: "variables")
        case .programTooLarge:
            var limits = Limits.gl43
            limits.maxProgramSize = 10
            return Case(kind: kind, program: program { for i in 0..<6 { Node.store("data", at: .u32(UInt32(i)), 1) } }, path: "entry", fixMentions: "split", limits: limits)
        }
    }

    @Test(arguments: ValidationError.Kind.allCases.map(make))
    func reportsKindPathAndFix(_ c: Case) throws {
        let errors = c.program.validationErrors(limits: c.limits)
        let match = try #require(errors.first { $0.kind == c.kind }, "no \(c.kind) error among \(errors)")
        #expect(match.path == c.path)
        #expect(match.fix.contains(c.fixMentions), "fix was: \(match.fix)")
        #expect(match.description.contains("Fix: "))
        #expect(throws: ValidationFailure.self) { try c.program.validate(limits: c.limits) }
    }

    @Test func barrierAfterDivergentReturnIsRejected() {
        let p = Self.program {
            Node.if(.localID(.x).equals(0)) { Node.return }
            Node.barrier(.workgroup)
        }
        #expect(p.validationErrors().contains { $0.kind == .nonUniformBarrier && $0.path == "entry[1]" })
    }

    @Test func barrierInLoopWithDivergentBreakIsRejected() {
        let p = Self.program {
            Node.forever {
                Node.barrier(.workgroup)
                Node.if(.load("data", at: .localID(.x)).equals(0)) { Node.break }
            }
        }
        #expect(p.validationErrors().contains { $0.kind == .nonUniformBarrier && $0.path == "entry[0].forever[0]" })
    }

    @Test func uniformBarriersAreAccepted() throws {
        let p = Self.program(shared: [SharedDecl("tile", type: .u32, count: 4)]) {
            Node.store("tile", at: .localID(.x), .localID(.x))
            Node.barrier(.workgroup)
            Node.for("k", from: 0, to: .load("input", at: 0)) {
                Node.if(.workgroupID(.x) < 3) { Node.barrier(.workgroup) }
            }
            Node.if(.localID(.x) < 2) { Node.barrier(.bufferMemory) }
        }
        try p.validate()
    }

    @Test func reportsEveryProblemInOrder() {
        let p = Self.program {
            Node.store("nope", at: 0, 1)
            Node.assign("ghost", 2)
        }
        #expect(p.validationErrors().map(\.path) == ["entry[0]", "entry[1]"])
    }
}
