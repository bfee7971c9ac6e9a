import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import VyreGL

/// Choosing a display, and opening DRM render nodes through GBM. These machines have no
/// `/dev/dri`, so the GBM path is proved up to the device: the order of candidates for every
/// selection, and every error a node can give.
struct RenderNodeTests {
    static func device(_ index: Int, software: Bool, node: String? = nil) -> GLDeviceInfo {
        GLDeviceInfo(index: index, driver: software ? "swrast" : "gpu", renderNode: node, isSoftware: software, extensions: [])
    }

    @Test func candidatesForEverySelection() throws {
        let devices = [Self.device(0, software: true), Self.device(1, software: false, node: "/dev/dri/renderD128")]
        let nodes = ["/dev/dri/renderD128", "/dev/dri/renderD129"]
        // With enumeration: the first hardware device, else the first device.
        #expect(try RenderNodes.candidates(for: .automatic, devices: devices, nodes: nodes, surfaceless: true) == [.device(1)])
        #expect(try RenderNodes.candidates(for: .automatic, devices: [devices[0]], nodes: [], surfaceless: true) == [.device(0)])
        // Without enumeration: every node through GBM, then surfaceless, then the default display.
        #expect(try RenderNodes.candidates(for: .automatic, devices: [], nodes: nodes, surfaceless: true)
                == [.gbm("/dev/dri/renderD128"), .gbm("/dev/dri/renderD129"), .surfaceless, .defaultDisplay])
        #expect(try RenderNodes.candidates(for: .automatic, devices: [], nodes: [], surfaceless: false) == [.defaultDisplay])
        // A node an EGL device reports goes through that device; any other through GBM.
        #expect(try RenderNodes.candidates(for: .renderNode("/dev/dri/renderD128"), devices: devices, nodes: nodes, surfaceless: true) == [.device(1)])
        #expect(try RenderNodes.candidates(for: .renderNode("/dev/dri/renderD129"), devices: devices, nodes: nodes, surfaceless: true) == [.gbm("/dev/dri/renderD129")])
        #expect(try RenderNodes.candidates(for: .renderNode("/dev/dri/renderD129"), devices: [], nodes: [], surfaceless: true) == [.gbm("/dev/dri/renderD129")])
        #expect(try RenderNodes.candidates(for: .index(1), devices: devices, nodes: nodes, surfaceless: true) == [.device(1)])
        #expect(throws: VyreGLError.self) { try RenderNodes.candidates(for: .index(2), devices: devices, nodes: nodes, surfaceless: true) }
        #expect(throws: VyreGLError.self) { try RenderNodes.candidates(for: .index(0), devices: [], nodes: nodes, surfaceless: true) }
    }

    @Test func nodesAreListedInNumberOrder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dri-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["renderD129", "card0", "renderD1000", "renderD128", "by-path"] {
            _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: nil)
        }
        #expect(RenderNodes.paths(in: dir.path) == ["renderD128", "renderD129", "renderD1000"].map { "\(dir.path)/\($0)" })
        #expect(RenderNodes.paths(in: dir.appendingPathComponent("missing").path).isEmpty)
    }

    static func message(_ error: VyreGLError) -> String { error.diagnostics.map(\.description).joined(separator: "\n") }

    static func openError(_ path: String) -> VyreGLError? {
        do { _ = try GLContext(device: .renderNode(path)) } catch { return error }
        return nil
    }

    @Test func everyNodeErrorIsTypedWithAFix() throws {
        let missing = try #require(Self.openError("/nonexistent-\(UUID().uuidString)/renderD128"))
        guard case .renderNodeMissing = missing else { Issue.record("\(missing)"); return }
        #expect(Self.message(missing).contains("no DRM render node at") && Self.message(missing).contains("Fix:"))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-node-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: file.path, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(at: file) }
        let regular = try #require(Self.openError(file.path))
        guard case .renderNodeInvalid = regular else { Issue.record("\(regular)"); return }
        #expect(Self.message(regular).contains("is not a character device") && Self.message(regular).contains("Fix:"))

        // Mesa's GBM would take /dev/null and render in software: refused by its device number.
        let null = try #require(Self.openError("/dev/null"))
        guard case .renderNodeInvalid = null else { Issue.record("\(null)"); return }
        #expect(Self.message(null).contains("is not a DRM device (character device major 1") && Self.message(null).contains("Fix:"))

        // Errors by errno, as opening a real node can give them.
        guard case .renderNodeDenied = RenderNodes.openError(path: "/dev/dri/renderD128", errno: EACCES) else { Issue.record("EACCES"); return }
        #expect(Self.message(RenderNodes.openError(path: "/dev/dri/renderD128", errno: EACCES)).contains("'render'"))
        guard case .renderNodeMissing = RenderNodes.openError(path: "/dev/dri/renderD128", errno: ENOENT) else { Issue.record("ENOENT"); return }
        #expect(Self.message(RenderNodes.openError(path: "/dev/dri/renderD128", errno: EIO)).contains("cannot be opened"))
    }

    static let nodePath = FileManager.default.temporaryDirectory.appendingPathComponent("renderD-\(UUID().uuidString)").path

    /// Makes a device node with DRM's major number and no driver behind it, where this process may.
    static let canMakeNodes: Bool = mknod(nodePath, S_IFCHR | 0o600, UInt(RenderNodes.drmMajor << 8) | 250) == 0

    /// A DRM device number with no driver behind it: opening it fails, and says so. Skipped (and
    /// reported as skipped) without CAP_MKNOD; the errno cases above cover the mapping there.
    @Test(.enabled(if: canMakeNodes, "this process may not make device nodes"))
    func aDRMNumberWithNoDriverFailsToOpen() throws {
        defer { unlink(Self.nodePath) }
        let error = try #require(Self.openError(Self.nodePath))
        guard case .renderNodeInvalid = error else { Issue.record("\(error)"); return }
        #expect(Self.message(error).contains("cannot be opened (No such device or address)"), "\(error)")
    }
}
