#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import VyreIR

/// Standard output with its write errors caught. A full disk (`> /dev/full`) or a reader that
/// went away (a closed pipe) ends the command with a message and exit status 1, instead of output
/// lost silently; SIGPIPE is ignored at start-up so a closed pipe arrives here as EPIPE.
///
/// Text is buffered and written with `write(2)` in 64 KiB pieces, so every failure carries its errno.
enum Output {
    private static let pending = Mutex<[UInt8]>([])
    private static let pieceBytes: Int = 1 << 16

    static func write(_ text: String) throws {
        let full = pending.withLock { buffer in
            buffer.append(contentsOf: text.utf8)
            return buffer.count >= pieceBytes
        }
        if full { try flush() }
    }

    static func line(_ text: String = "") throws { try write(text + "\n") }

    /// Writes what is buffered; the command is not done until this succeeds.
    static func flush() throws {
        try pending.withLock { buffer throws(CLIFailure) in
            var offset = 0
            defer { buffer.removeFirst(offset) }
            while offset < buffer.count {
                let n = buffer[offset...].withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    let code = errno
                    // What could not be written is dropped: retrying a full disk or a closed pipe cannot help.
                    offset = buffer.count
                    throw failure(code)
                }
                offset += n
            }
        }
    }

    /// A warning on stderr, in the same one-line form as an error; the command goes on.
    static func warn(_ d: Diagnostic) {
        FileHandle.standardError.write(Data("vyre-gl: warning: \(CLI.line(d))\n".utf8))
    }

    /// `value` as pretty-printed JSON with sorted keys, then a newline.
    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try line(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func failure(_ code: Int32) -> CLIFailure {
        let reason = String(cString: strerror(code))
        let fix = switch code {
        case ENOSPC: "free space where the output goes, or send it elsewhere"
        case EPIPE: "keep the reading end open until the command ends (for example, do not pipe into a command that exits early), or write the output to a file"
        default: "check the file or pipe the output goes to"
        }
        return CLIFailure(status: .ranWithFailures, "could not write the output to standard output: \(reason)", fix: "\(fix)")
    }
}
