import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The example server as its users run it: the built binary on loopback, concurrent batches,
/// `/metrics`, then SIGTERM while requests run: every request it took is answered in full, and it
/// exits 0. On a machine without a GPU it runs on llvmpipe.
@Suite(.serialized)
struct ServerTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let binary: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vyre-gl-server")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return root.appendingPathComponent(".build/debug/vyre-gl-server")
    }()

    /// A running server and the port it chose.
    struct Server {
        var process: Process
        var port: Int
    }

    static func start() throws -> Server {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["--port", "0", "--slots", "1024", "--drain-seconds", "120"]
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "VYRE_GL_DEVICE")
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // The first line says where it listens.
        var line = Data()
        while true {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            guard let b = byte.first else { throw ServerError("the server exited before it listened") }
            if b == UInt8(ascii: "\n") { break }
            line.append(b)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening on "), let port = text.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw ServerError("unexpected first line '\(text)'")
        }
        return Server(process: process, port: port)
    }

    struct ServerError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// One HTTP/1.1 request on its own loopback connection (`Connection: close`), made with plain
    /// sockets on a thread of its own: FoundationNetworking's client now and then never finished a
    /// request on a loaded 2-core machine, which hung the test. Reads and writes time out after
    /// 300 s, so a server that stops answering fails the test instead.
    static func request(_ port: Int, _ path: String, body: Data? = nil) async throws -> (Int, Data) {
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<(Int, Data), ServerError>, Never>) in
            Thread.detachNewThread { c.resume(returning: Result { () throws(ServerError) in try blockingRequest(port, path, body: body) }) }
        }
        return try result.get()
    }

    static func blockingRequest(_ port: Int, _ path: String, body: Data?) throws(ServerError) -> (Int, Data) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError("socket: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 300, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw ServerError("connect to port \(port): errno \(errno)") }
        let payload = body ?? Data()
        var head = "\(body == nil ? "GET" : "POST") \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if body != nil { head += "Content-Type: application/json\r\n" }
        head += "Content-Length: \(payload.count)\r\n\r\n"
        let out = Array(head.utf8) + [UInt8](payload)
        var sent = 0
        while sent < out.count {
            let n = out[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw ServerError("send: errno \(errno)") }
            sent += n
        }
        var response = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw ServerError("recv: errno \(errno) after \(response.count) bytes") }
            response += chunk[0..<n]
        }
        guard let split = response.firstRange(of: Array("\r\n\r\n".utf8)) else { throw ServerError("no header end in \(response.count) bytes") }
        let header = String(decoding: response[..<split.lowerBound], as: UTF8.self)
        let status = header.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        var content = Data(response[split.upperBound...])
        if header.lowercased().contains("transfer-encoding: chunked") { content = dechunked(content) }
        return (status, content)
    }

    /// A chunked body's bytes.
    static func dechunked(_ data: Data) -> Data {
        let bytes = [UInt8](data)
        var out = Data()
        var i = 0
        while let end = bytes[i...].firstRange(of: Array("\r\n".utf8)) {
            guard let size = Int(String(decoding: bytes[i..<end.lowerBound], as: UTF8.self), radix: 16), size > 0 else { break }
            out.append(contentsOf: bytes[end.upperBound..<min(bytes.count, end.upperBound + size)])
            i = end.upperBound + size + 2
            guard i < bytes.count else { break }
        }
        return out
    }

    /// Request `r`'s batch: `phases` phases of 5 ATOMIC_ADDs to its own word, each ended by a fence,
    /// then a LOAD_U32 of the word into its own observable.
    static func batch(_ r: Int, phases: Int) -> Data {
        var ops: [String] = []
        for _ in 0..<phases {
            for _ in 0..<5 { ops.append("{\"op\": \"ATOMIC_ADD\", \"args\": [1, \(10_000 + r)]}") }
            ops.append("{\"op\": \"BATCH_FENCE\", \"args\": [0, 1]}")
        }
        ops.append("{\"op\": \"LOAD_U32\", \"args\": [\(10_000 + r), \(20_000 + r)]}")
        return Data("{\"ops\": [\(ops.joined(separator: ", "))]}".utf8)
    }

    /// A 200 whose every op ran, and whose load saw all of the request's adds.
    static func checkComplete(_ r: Int, phases: Int, _ status: Int, _ data: Data) {
        #expect(status == 200, "request \(r): status \(status): \(String(decoding: data, as: UTF8.self))")
        let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        let ops = phases * 6 + 1
        #expect(o?["ops"] as? Int == ops && o?["done"] as? Int == ops, "request \(r): \(String(decoding: data.prefix(400), as: UTF8.self))")
        #expect((o?["pending"] as? [Any])?.isEmpty == true && (o?["faults"] as? [Any])?.isEmpty == true)
        let observed = (o?["observed"] as? [String: [String: Int]])?["\(ops - 1)"]
        #expect(observed?["\(20_000 + r)"] == phases * 5, "request \(r): observed \(String(describing: observed))")
    }

    /// A metric's value from `/metrics` (-1 when it is not there).
    static func metric(_ port: Int, _ name: String) async throws -> Int {
        let (_, data) = try await request(port, "/metrics")
        let text = String(decoding: data, as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Int(Double($0) ?? -1) } ?? -1
    }

    @Test(.timeLimit(.minutes(10))) func concurrentBatchesMetricsAndAGracefulSIGTERM() async throws {
        let server = try Self.start()
        defer { if server.process.isRunning { server.process.terminate() } }
        let port = server.port

        // Concurrent requests on the shared kernel.
        try await withThrowingTaskGroup(of: (Int, Int, Data).self) { group in
            for r in 0..<16 { group.addTask { let (s, d) = try await Self.request(port, "/run", body: Self.batch(r, phases: 3)); return (r, s, d) } }
            for try await (r, status, data) in group { Self.checkComplete(r, phases: 3, status, data) }
        }
        let (status, data) = try await Self.request(port, "/metrics")
        let metrics = String(decoding: data, as: UTF8.self)
        #expect(status == 200)
        #expect(try await Self.metric(port, "vyre_gl_resident_ops_submitted_total") == 16 * 19, "\(metrics.prefix(2000))")
        #expect(metrics.contains("vyre_gl_resident_ops_completed_total{") && metrics.contains("status=\"done\"") && metrics.contains("device=\""))
        // A bad batch is refused with its error and a Fix, and runs nothing.
        let (bad, body) = try await Self.request(port, "/run", body: Data("{\"ops\": [{\"op\": \"NO_SUCH_OP\"}]}".utf8))
        #expect(bad == 400 && String(decoding: body, as: UTF8.self).contains("Fix:"))

        // Long requests (many phases); once the server is running all of them, SIGTERM.
        let phases = 150
        let running = Task {
            try await withThrowingTaskGroup(of: (Int, Int, Data).self) { group in
                for r in 0..<8 { group.addTask { let (s, d) = try await Self.request(port, "/run", body: Self.batch(100 + r, phases: phases)); return (100 + r, s, d) } }
                var answers: [(Int, Int, Data)] = []
                for try await answer in group { answers.append(answer) }
                return answers
            }
        }
        while try await Self.metric(port, "vyre_gl_server_batches_in_flight") < 8 { try await Task.sleep(for: .milliseconds(20)) }
        kill(server.process.processIdentifier, SIGTERM)
        let answers = try await running.value
        #expect(answers.count == 8)
        for (r, status, data) in answers { Self.checkComplete(r, phases: phases, status, data) }
        server.process.waitUntilExit()
        #expect(server.process.terminationReason == .exit && server.process.terminationStatus == 0)
    }
}
