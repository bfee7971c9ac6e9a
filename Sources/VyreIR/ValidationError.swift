/// One problem found by ``Program/validate(limits:)``: where (a node path such as
/// `entry[3].then[0].value.lhs`), what, and how to fix it.
public struct ValidationError: DiagnosticError, Sendable, Hashable {
    /// The rule broken, for code that matches on problems; the words are in ``ValidationError/problem``.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case invalidName, duplicateMemory, duplicateBinding, bindingOutOfRange, tooManyBuffers
        case invalidSize, workgroupSizeLimit, sharedMemoryLimit, missingCapability
        case undefinedVariable, duplicateVariable, assignToLoopVariable
        case unknownMemory, typeMismatch, storeToReadOnly, loadFromWriteOnly, invalidAtomic, unsupportedOperation
        case breakOutsideLoop, nonUniformBarrier, unknownAsyncTag, invalidAsyncCopy
        case nestingTooDeep, programTooLarge
    }

    public var kind: Kind
    public var path: String
    public var problem: String
    public var fix: String

    /// An error at node path `path`; `problem` and `fix` have no final period (see ``Diagnostic``).
    public init(_ kind: Kind, at path: String, _ problem: String, fix: String) {
        self.kind = kind
        self.path = path
        self.problem = problem
        self.fix = fix
    }

    public var diagnostic: Diagnostic { Diagnostic(problem, at: path, fix: fix) }
    public var diagnostics: [Diagnostic] { [diagnostic] }
}

/// Every problem validation found, in program order.
public struct ValidationFailure: DiagnosticError, Sendable, Hashable {
    public var errors: [ValidationError]

    /// A failure listing `errors` (non-empty, in program order).
    public init(errors: [ValidationError]) { self.errors = errors }

    public var diagnostics: [Diagnostic] { errors.map(\.diagnostic) }

    /// One `path: problem. Fix: fix.` line per problem, as every diagnostic error prints, the
    /// first 20 of a long report and a count of the rest.
    public var description: String {
        let more = errors.count > 20 ? "\n... and \(errors.count - 20) more problems" : ""
        return diagnostics.prefix(20).map(\.description).joined(separator: "\n") + more
    }
}
