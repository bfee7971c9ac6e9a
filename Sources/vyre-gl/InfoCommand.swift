import ArgumentParser
import Foundation
import VyreGL
import VyreIR
import VyreStream

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "List EGL devices and DRM render nodes and describe the chosen one: API, GL version, renderer, limits, and the extensions vyre-gl uses.")

    @OptionGroup var deviceOptions: DeviceOptions
    @Flag(help: "Print one JSON object.") var json = false

    struct Report: Encodable {
        var version: String
        var devices: [GLDeviceInfo]
        var renderNodes: [RenderNodeInfo]
        var context: GLContextInfo?
        var contextError: String?
        var ioUring: String
    }

    func run() throws {
        runReporting {
            let devices = GLContext.availableDevices()
            var context: GLContextInfo? = nil
            var contextError: [Diagnostic]? = nil
            var status = CLIFailure.Status.noDevice
            do { context = try CLI.openContext(deviceOptions).info } catch { (status, contextError) = CLI.classify(error) }
            let uring: String
            switch ioUringProbe() {
            case .success(let n): uring = "available (\(n)-entry ring set up and torn down)"
            case .failure(let e): uring = "unavailable: \(e)"
            }
            let report = Report(version: VyreGLCommand.version, devices: devices, renderNodes: GLContext.renderNodes(devices: devices), context: context, contextError: contextError?.map(\.description).joined(separator: "\n"), ioUring: uring)
            if json { try Output.json(report) } else { try printText(report) }
            if let contextError { throw CLIFailure(status: status, diagnostics: contextError) }
        }
    }

    private func printText(_ r: Report) throws {
        try Output.line("vyre-gl \(r.version)")
        try Output.line("EGL devices:\(r.devices.isEmpty ? " none enumerated (EGL_EXT_device_enumeration missing)" : "")")
        for d in r.devices {
            let chosen = r.context?.device?.index == d.index ? "  <- selected" : ""
            try Output.line("  \(d.summary)\(chosen)")
        }
        try Output.line("DRM render nodes:\(r.renderNodes.isEmpty ? " none (no /dev/dri/renderD*)" : "")")
        for n in r.renderNodes {
            let chosen = r.context?.renderNode == n.path ? "  <- selected" : ""
            try Output.line("  \(n.summary)\(chosen)")
        }
        guard let c = r.context else {
            try Output.line("No usable context: \(r.contextError ?? "unknown error")")
            return
        }
        let l = c.limits
        try Output.line("""
            Display:        \(c.origin.rawValue)\(c.origin == .gbm ? " \(c.renderNode ?? "")" : ""), EGL \(c.eglVersion) (\(c.eglVendor))
            API:            \(c.api.rawValue) (\(c.api)): \(c.apiChoice)
            GL:             \(c.glVersion)
            Renderer:       \(c.renderer) (\(c.vendor))\(c.isSoftware ? " [software]" : "")
            GLSL:           \(c.glslVersion); vyre-gl writes \(c.shadingLanguage.rawValue)\(c.glslExtensions.isEmpty ? "" : " with \(c.glslExtensions.sorted().joined(separator: ", "))")
            Robustness:     robust buffer access \(yes(c.robustAccess)), lose context on reset \(yes(c.resetNotification)), debug context \(yes(c.debugContext))
            Limits:         \(limitsLine(c))
            Workgroup size: \(l.maxWorkgroupSize.map(String.init).joined(separator: " x ")), \(l.maxWorkgroupInvocations) invocations
            Workgroups:     \(l.maxWorkgroupCount.map(String.init).joined(separator: " x "))
            Shared memory:  \(l.maxSharedMemoryBytes) bytes
            Storage:        \(l.maxComputeStorageBlocks) blocks per program, \(l.maxStorageBufferBindings) bindings, \(l.maxStorageBlockBytes / (1 << 20)) MiB per block, offset alignment \(l.storageBufferOffsetAlignment)
            Mapping:        \(c.persistentMapping ? "persistent and coherent: the resident megakernel and scan can run" : "none: one-shot runs upload and read back; run --resident, bench persistent and scan refuse")
            64-bit types:   int64 \(yes(l.int64)), float64 \(yes(l.float64))
            Program binary: \(c.programBinaryFormats == 0 ? "no formats offered: every program compiles (Mesa offers none while its shader cache is disabled)" : "\(c.programBinaryFormats) format\(c.programBinaryFormats == 1 ? "" : "s"); cache at \(ProgramBinaryCache.shared.directoryPath ?? "none (memory only)")")
            Loop limit:     \(l.maxLoopIterations.map { "\($0) iterations \(l.loopLimitIsPerInvocation ? "per invocation, shared by all its loops" : "per loop"); the driver cuts longer loops, vyre-gl detects and reports every cut" } ?? "none found up to \(DeviceLimits.loopProbeIterations) iterations per invocation")
            Features:
            """)
        for (name, has) in c.features.sorted(by: { $0.key < $1.key }) { try Output.line("  \(name): \(yes(has))") }
        try Output.line("io_uring:       \(r.ioUring)")
    }

    private func yes(_ b: Bool) -> String { b ? "yes" : "no" }

    private func limitsLine(_ c: GLContextInfo) -> String {
        switch c.limitsProfile {
        case .device: "the device's own"
        case .es31Minimum: "clamped to what OpenGL ES 3.1 guarantees (VYRE_GL_LIMITS=es31-minimum)"
        case .es31Core: "clamped to what OpenGL ES 3.1 guarantees, and no extension, so no persistent mapping (VYRE_GL_LIMITS=es31-core)"
        }
    }
}
