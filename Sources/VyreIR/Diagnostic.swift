/// What went wrong, where, and what to do about it: the one shape of every vyre-gl error.
///
/// `problem` says what happened, in the words of whoever reads it; `path` names the place when
/// there is one (an IR node path such as `entry[2].value`, or a JSON path); `fix` says what to do.
/// Neither ends with a period: ``description`` writes them as `path: problem. Fix: fix.`, the form
/// the command line prints and logs keep.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public var problem: String
    public var path: String?
    public var fix: String

    /// A diagnostic. One trailing period of `problem` and of `fix` is dropped (an ellipsis is
    /// kept), since ``description`` adds its own.
    public init(_ problem: String, at path: String? = nil, fix: String) {
        // Some texts are whole sentences (tables of fixes, a parser's messages); the description
        // adds the period.
        func sentence(_ text: String) -> String { text.hasSuffix(".") && !text.hasSuffix("..") ? String(text.dropLast()) : text }
        self.problem = sentence(problem)
        self.path = path
        self.fix = sentence(fix)
    }

    public var description: String { "\(path.map { "\($0): " } ?? "")\(problem). Fix: \(fix)." }

    /// The same diagnostic with `context` in front of its problem (an error that wraps another
    /// says what it was doing).
    public func within(_ context: String) -> Diagnostic {
        Diagnostic("\(context): \(problem)", at: path, fix: fix)
    }

    /// The same diagnostic placed inside `outer` (a file, a command-line flag), which goes in
    /// front of its path: `outer: path: problem`.
    public func located(in outer: String) -> Diagnostic {
        Diagnostic(problem, at: path.map { "\(outer): \($0)" } ?? outer, fix: fix)
    }

    /// A decoding error at `path` carrying this problem and Fix, for Codable forms whose failures
    /// should read like the rest (``ProgramJSONError`` unwraps it).
    public func error(at path: [any CodingKey]) -> DecodingError {
        .dataCorrupted(.init(codingPath: path, debugDescription: problem, underlyingError: self))
    }
}

/// An error that can say what went wrong as diagnostics: one for most errors, one per problem for
/// a failed validation. Every error type of vyre-gl conforms, so callers (the command line, a
/// server's logs) print them all one way.
public protocol DiagnosticError: Error, CustomStringConvertible {
    var diagnostics: [Diagnostic] { get }
}

extension DiagnosticError {
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// `count` and `noun`, plural unless the count is 1: "1 word", "2 words".
public func counted(_ count: some BinaryInteger, _ noun: String, plural: String? = nil) -> String {
    "\(count) \(count == 1 ? noun : plural ?? noun + "s")"
}
