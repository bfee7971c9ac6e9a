#if canImport(Glibc)
import Glibc
#endif
import Foundation
import VyreIR

/// Reads an input file for a command. Regular files and pipes are read (up to a size limit);
/// anything else is bad input with exit status 2 that says what the path is: a directory, a
/// device file (reading `/dev/zero` would never end) or a socket.
enum InputFile {
    /// Files larger than this are refused rather than read into memory.
    static let byteLimit: Int = 1 << 30

    /// With `devices`, a character device is read too, to its end or the size limit (`scan -f
    /// /dev/null` is grep's way to give no patterns).
    static func read(_ path: String, what: String, devices: Bool = false) throws -> [UInt8] {
        let shown = "\(what) '\(quoteForMessage(path, limit: 160))'"
        var info = stat()
        guard stat(path, &info) == 0 else { throw failure(errno, shown) }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            guard Int(info.st_size) <= byteLimit else {
                throw CLI.badInput("\(shown) has \(info.st_size) bytes, more than the \(byteLimit) vyre-gl reads", fix: "use a smaller file")
            }
        case S_IFIFO:
            break
        case S_IFDIR:
            throw CLI.badInput("\(shown) is a directory, not a file", fix: "name a file inside it")
        case S_IFCHR where devices:
            break
        case S_IFCHR, S_IFBLK:
            throw CLI.badInput("\(shown) is a device file, not a regular file", fix: "name a regular file (or a pipe)")
        case S_IFSOCK:
            throw CLI.badInput("\(shown) is a socket, not a regular file", fix: "name a regular file (or a pipe)")
        default:
            throw CLI.badInput("\(shown) is not a regular file", fix: "name a regular file (or a pipe)")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(errno, shown) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(max(0, Int(info.st_size)))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(errno, shown)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > byteLimit {
                throw CLI.badInput("\(shown) holds more than the \(byteLimit) bytes vyre-gl reads", fix: "use a smaller input")
            }
        }
        return bytes
    }

    private static func failure(_ code: Int32, _ shown: String) -> CLIFailure {
        switch code {
        case ENOENT:
            CLI.badInput("\(shown) does not exist", fix: "check the path (relative paths start at \(FileManager.default.currentDirectoryPath))")
        case EACCES, EPERM:
            CLI.badInput("\(shown) cannot be read: permission denied", fix: "check its permissions")
        case ENOTDIR:
            CLI.badInput("\(shown) does not exist: a part of the path is not a directory", fix: "check the path")
        case ENAMETOOLONG:
            CLI.badInput("\(shown) is not a usable path: it is too long", fix: "use a shorter path")
        default:
            CLI.badInput("\(shown) cannot be read: \(String(cString: strerror(code)))", fix: "check the path and the file")
        }
    }
}
