#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A one-line progress report for long work, on stderr and only when stderr is a terminal: piped
/// or redirected runs stay clean. Redrawn at most ten times a second.
struct Progress {
    private let enabled = isatty(STDERR_FILENO) == 1
    private let clock = ContinuousClock()
    private var last: ContinuousClock.Instant?

    mutating func update(_ text: @autoclosure () -> String) {
        guard enabled else { return }
        let now = clock.now
        if let last, now - last < .milliseconds(100) { return }
        last = now
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text())".utf8))
    }

    /// Clears the line, so later output starts on a clean one.
    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
