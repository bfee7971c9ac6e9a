#if canImport(Glibc)
import Glibc
#endif
import Foundation
import VyreIR

/// Files a command writes (`exec --output-dir`, `selftest --dump-failures`), with every failure
/// (a full disk, a path that is a file, no permission) reported with the path and a Fix.
enum OutputFiles {
    static func makeDirectory(_ path: String, what: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw CLI.badInput("\(what) '\(quoteForMessage(path, limit: 160))' exists and is not a directory", fix: "name a directory, or a path that does not exist yet")
            }
            return
        }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw CLIFailure(status: .ranWithFailures, "\(what) '\(quoteForMessage(path, limit: 160))' could not be made: \((error as NSError).localizedDescription)", fix: "check the path and its permissions")
        }
    }

    /// An open file, written through `write(2)` so each failure has its errno.
    struct File {
        let fd: Int32
        let path: String

        func write(_ bytes: [UInt8]) throws {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure(errno, path)
                }
                offset += n
            }
        }

        func close() { _ = Glibc.close(fd) }
    }

    static func create(_ path: String, what: String) throws -> File {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(errno, path) }
        return File(fd: fd, path: path)
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let file = try create(path, what: "output file")
        defer { file.close() }
        try file.write(bytes)
    }

    /// Checks, before any work, that a file can be made at `path`: not empty, not a directory,
    /// in a directory that exists, and none of the command's `inputs` (by device and inode, so
    /// another spelling of the same file is caught too). Bad input (exit 2) otherwise.
    static func checkTarget(_ path: String, option: String, inputs: [String] = []) throws {
        let shown = quoteForMessage(path, limit: 160)
        guard !path.isEmpty else { throw CLI.badInput("\(option) is empty", fix: "name the file to write") }
        var info = stat()
        if stat(path, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR {
                throw CLI.badInput("\(option) '\(shown)' is a directory", fix: "name a file, such as '\(shown)/run.log'")
            }
            var other = stat()
            if let input = inputs.first(where: { stat($0, &other) == 0 && other.st_dev == info.st_dev && other.st_ino == info.st_ino }) {
                throw CLI.badInput("\(option) '\(shown)' is the input '\(quoteForMessage(input, limit: 160))': writing it would destroy it", fix: "write the log to another file")
            }
        }
        let parent = (path as NSString).deletingLastPathComponent
        guard parent.isEmpty || (stat(parent, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR) else {
            throw CLI.badInput("\(option) '\(shown)': the directory '\(quoteForMessage(parent, limit: 160))' does not exist", fix: "create it first, or write elsewhere")
        }
    }

    /// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: a full disk
    /// or a crash leaves the old file (or none), never a cut one.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = "\(path).partial-\(getpid())"
        do {
            try write(bytes, to: temporary)
            guard rename(temporary, path) == 0 else { throw failure(errno, path) }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    static func failure(_ code: Int32, _ path: String) -> CLIFailure {
        let fix = code == ENOSPC ? "free space on that disk or write elsewhere" : "check the path and its permissions"
        return CLIFailure(status: .ranWithFailures, "could not write '\(quoteForMessage(path, limit: 160))': \(String(cString: strerror(code)))", fix: "\(fix)")
    }
}
