import Foundation

/// Runs the built `vyre-gl` binary as a user would and collects its output and exit status.
struct CLIRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The process ended by a signal (a trap or a crash), not by exiting.
        var signaled: Bool = false
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The binary sits next to the test bundle in SwiftPM's build directory.
    static let binary: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vyre-gl")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return root.appendingPathComponent(".build/debug/vyre-gl")
    }()

    /// Runs the binary with `arguments`; `stdout` replaces the captured pipe (a file such as
    /// /dev/full, or a pipe the test closes), and then `Result.stdout` is empty.
    /// Standard input is empty unless `input` is given, which a thread writes into a pipe, or
    /// `stdin` (a file or directory opened for reading).
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 300,
                    stdout: FileHandle? = nil, input: Data? = nil, stdin: FileHandle? = nil, afterLaunch: () -> Void = {}) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = root
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "VYRE_GL_DEVICE")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = stdout ?? out
        process.standardError = err
        let pipe = input.map { _ in Pipe() }
        process.standardInput = pipe ?? stdin ?? FileHandle.nullDevice
        try process.run()
        if let pipe, let input {
            let writer = Thread {
                try? pipe.fileHandleForWriting.write(contentsOf: input)
                try? pipe.fileHandleForWriting.close()
            }
            writer.start()
        }
        afterLaunch()
        if stdout != nil { try out.fileHandleForWriting.close() }
        // Read stderr on another thread while this one reads stdout, so a full pipe cannot block
        // the child; a watchdog ends a child that runs past the timeout.
        let errors = Collected()
        let reader = Thread { errors.set(err.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        while !errors.done { usleep(1000) }
        watchdog.cancel()
        let stderrData = errors.data
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self), stderr: String(decoding: stderrData, as: UTF8.self),
                      signaled: process.terminationReason == .uncaughtSignal)
    }

    /// Bytes filled in by another thread.
    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var value = Data()
        private var finished = false
        func set(_ d: Data) { lock.lock(); value = d; finished = true; lock.unlock() }
        var done: Bool { lock.lock(); defer { lock.unlock() }; return finished }
        var data: Data { lock.lock(); defer { lock.unlock() }; return value }
    }

    static func json(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }
}
