import CEGL

/// GL entry points whose name differs between OpenGL and OpenGL ES, or that a context may lack,
/// loaded once through `eglGetProcAddress` when the context is made. Everything else is core in
/// both APIs and called directly (libglvnd sends it to the current context's driver).
struct GLEntryPoints {
    /// `glBufferStorage` (GL 4.4, `GL_ARB_buffer_storage`) or `glBufferStorageEXT` (ES).
    var bufferStorage: PFNGLBUFFERSTORAGEPROC?
    /// `glGetGraphicsResetStatus` (GL 4.5, ES 3.2) or its KHR/EXT form; nil without robustness.
    var graphicsResetStatus: PFNGLGETGRAPHICSRESETSTATUSPROC?
    /// `glDebugMessageCallback` (GL 4.3, ES 3.2) or `glDebugMessageCallbackKHR`; nil without KHR_debug.
    var debugMessageCallback: PFNGLDEBUGMESSAGECALLBACKPROC?

    static let none = GLEntryPoints(bufferStorage: nil, graphicsResetStatus: nil, debugMessageCallback: nil)

    /// The entry points of a context for `api` at `version` (major * 10 + minor) with `extensions`.
    init(api: GraphicsAPI, version: Int, extensions: Set<String>) {
        func load<T>(_ names: [String?], _: T.Type) -> T? {
            for case let name? in names {
                if let p = eglGetProcAddress(name) { return unsafeBitCast(p, to: T.self) }
            }
            return nil
        }
        let robust = extensions.contains("GL_KHR_robustness") || extensions.contains("GL_EXT_robustness") || extensions.contains("GL_ARB_robustness")
        let debug = extensions.contains("GL_KHR_debug")
        switch api {
        case .gl:
            // eglGetProcAddress may name functions the context lacks: asked only where offered.
            bufferStorage = version >= 44 || extensions.contains("GL_ARB_buffer_storage") ? load(["glBufferStorage"], PFNGLBUFFERSTORAGEPROC.self) : nil
            graphicsResetStatus = version >= 45 || robust
                ? load([version >= 45 || extensions.contains("GL_KHR_robustness") ? "glGetGraphicsResetStatus" : nil,
                        extensions.contains("GL_ARB_robustness") ? "glGetGraphicsResetStatusARB" : nil], PFNGLGETGRAPHICSRESETSTATUSPROC.self) : nil
            debugMessageCallback = load(["glDebugMessageCallback"], PFNGLDEBUGMESSAGECALLBACKPROC.self)
        case .gles:
            bufferStorage = extensions.contains("GL_EXT_buffer_storage") ? load(["glBufferStorageEXT"], PFNGLBUFFERSTORAGEPROC.self) : nil
            graphicsResetStatus = version >= 32 || robust
                ? load([version >= 32 ? "glGetGraphicsResetStatus" : nil, extensions.contains("GL_KHR_robustness") ? "glGetGraphicsResetStatusKHR" : nil,
                        extensions.contains("GL_EXT_robustness") ? "glGetGraphicsResetStatusEXT" : nil], PFNGLGETGRAPHICSRESETSTATUSPROC.self) : nil
            debugMessageCallback = version >= 32 || debug
                ? load([version >= 32 ? "glDebugMessageCallback" : "glDebugMessageCallbackKHR"], PFNGLDEBUGMESSAGECALLBACKPROC.self) : nil
        }
    }

    private init(bufferStorage: PFNGLBUFFERSTORAGEPROC?, graphicsResetStatus: PFNGLGETGRAPHICSRESETSTATUSPROC?,
                 debugMessageCallback: PFNGLDEBUGMESSAGECALLBACKPROC?) {
        self.bufferStorage = bufferStorage
        self.graphicsResetStatus = graphicsResetStatus
        self.debugMessageCallback = debugMessageCallback
    }
}
