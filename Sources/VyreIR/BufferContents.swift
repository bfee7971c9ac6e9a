/// What a buffer holds when a dispatch starts.
public enum BufferContents: Sendable, Hashable {
    /// These little-endian words.
    case words([UInt32])
    /// `words` zero words. A device clears them itself: nothing of that size is made on the host.
    case zeros(words: Int)

    public var wordCount: Int {
        switch self {
        case .words(let w): w.count
        case .zeros(let n): n
        }
    }

    /// The words themselves (zeros made on the host: for the interpreter and comparisons).
    public var materialized: [UInt32] {
        switch self {
        case .words(let w): w
        case .zeros(let n): [UInt32](repeating: 0, count: n)
        }
    }
}

/// Why the buffers given for a dispatch do not fit the program's declarations.
public enum InputError: DiagnosticError, Sendable, Hashable {
    /// Contents were given for a buffer the program does not declare.
    case unknownBuffer(String)
    /// A runtime-sized buffer was left out, so its length is unknown.
    case missingBuffer(String)
    /// Fewer words than the declared count needs.
    case bufferTooSmall(name: String, words: Int, needed: Int)

    public var diagnostics: [Diagnostic] {
        switch self {
        case .unknownBuffer(let n):
            [Diagnostic("buffer '\(quoteForMessage(n))' was given but the program declares no such buffer", fix: "check the name against the program's buffers")]
        case .missingBuffer(let n):
            [Diagnostic("runtime-sized buffer '\(quoteForMessage(n))' was not given, so its length is unknown", fix: "pass contents for '\(quoteForMessage(n))'")]
        case .bufferTooSmall(let n, let words, let needed):
            [Diagnostic("buffer '\(quoteForMessage(n))' holds \(words) words but its declaration needs \(needed)", fix: "pass at least \(needed) words")]
        }
    }
}

extension Program {
    /// Every buffer's starting contents, in declaration order: the contents given, or zeros at the
    /// declared count for a buffer left out. A runtime-sized buffer left out is an error, or gets
    /// `runtimeSizedDefault` elements when that is set. The one place this rule is written: the
    /// interpreter, a device run and a megakernel's extra buffers all start buffers this way.
    public func startingContents(_ given: [String: BufferContents], runtimeSizedDefault: Int? = nil) throws(InputError) -> [(decl: BufferDecl, contents: BufferContents)] {
        try Self.startingContents(of: buffers, given, runtimeSizedDefault: runtimeSizedDefault)
    }

    /// ``startingContents(_:runtimeSizedDefault:)`` for buffers declared outside a program.
    public static func startingContents(of declarations: [BufferDecl], _ given: [String: BufferContents], runtimeSizedDefault: Int? = nil) throws(InputError) -> [(decl: BufferDecl, contents: BufferContents)] {
        if let unknown = given.keys.sorted().first(where: { name in !declarations.contains { $0.name == name } }) {
            throw .unknownBuffer(unknown)
        }
        var out: [(decl: BufferDecl, contents: BufferContents)] = []
        for decl in declarations {
            let declared = decl.count.map { Int($0) * decl.elementType.wordCount }
            let contents: BufferContents
            if let g = given[decl.name] {
                contents = g
            } else if let words = declared ?? runtimeSizedDefault.map({ $0 * decl.elementType.wordCount }) {
                contents = .zeros(words: words)
            } else {
                throw .missingBuffer(decl.name)
            }
            if let declared, contents.wordCount < declared {
                throw .bufferTooSmall(name: decl.name, words: contents.wordCount, needed: declared)
            }
            out.append((decl, contents))
        }
        return out
    }
}
