import CEGL
import Foundation
public import VyreIR
public import VyreGLSL

/// A program compiled and linked for one context, with the GLSL it came from.
///
/// Compiling costs a shader compile and link: tens of milliseconds on NVIDIA, hundreds on
/// llvmpipe for a large program. Build a pipeline once and dispatch it many times.
public struct ComputePipeline: ~Copyable, Sendable {
    /// The program this pipeline runs, as validated for its context.
    public let program: Program
    /// The GLSL it was compiled from, with the bindings and uniforms a dispatch sets.
    public let lowered: LoweredProgram
    /// The program's content hash, from validation (it names the program in logs and errors).
    public let contentHash: ContentHash
    /// Wall time of the driver's compile and link, or of loading the cached binary.
    public let compileTime: Duration
    /// The linked binary came from the context's ``GLContext/programCache`` rather than a compile.
    public let fromCache: Bool
    let name: UInt32
    let context: GLContext
    /// Resolved uniform locations (-1 when the driver optimized the uniform away).
    let budgetLocation: Int32
    let lengthLocations: [(binding: UInt32, location: Int32, elementBytes: Int)]
    let parameterLocations: [(name: String, location: Int32)]

    deinit { context.release(.program(name)) }
}

extension GLContext {
    /// Validates `program` against this device's limits, lowers it, and compiles it. `guards`
    /// other than `.all` are for measuring what the loop guards cost: without them a driver's
    /// loop limit goes unnoticed and a timeout cannot stop the dispatch.
    public func makePipeline(_ program: Program, guards: LoopGuards = .all) throws(VyreGLError) -> ComputePipeline {
        try makePipeline(try validated(program), guards: guards)
    }

    /// As ``makePipeline(_:guards:)-(Program,_)`` for a program already validated: validated for
    /// limits no wider than this device's, it is not checked again.
    public func makePipeline(_ validated: ValidatedProgram, guards: LoopGuards = .all) throws(VyreGLError) -> ComputePipeline {
        var target = self.target
        target.guards = guards
        return try makePipeline(validated, lowering: target)
    }

    /// `program` validated for this device's limits.
    public func validated(_ program: Program) throws(VyreGLError) -> ValidatedProgram {
        do { return try program.validated(limits: limits) } catch { throw .invalidForDevice(error) }
    }

    /// As ``makePipeline(_:guards:)-(ValidatedProgram,_)``, lowered for `target` rather than for
    /// this device: tests use it to run on llvmpipe the code written for devices without its loop
    /// limit.
    package func makePipeline(_ given: ValidatedProgram, lowering target: GLSLTarget) throws(VyreGLError) -> ComputePipeline {
        let limits = self.limits
        let validated: ValidatedProgram
        do { validated = try given.revalidated(for: limits) } catch { throw .invalidForDevice(error) }
        let program = validated.program
        let lowered: LoweredProgram
        do { lowered = try validated.lowerToGLSL(target: target) } catch { throw .lowering(error) }
        if let binding = lowered.statusBinding, binding >= limits.maxBindings || program.buffers.count + 1 > Int(limits.maxStorageBuffers) {
            throw .invalidForDevice(ValidationFailure(errors: [ValidationError(
                .tooManyBuffers, at: "buffers",
                "a program that loops or traps needs a binding for its status block (\(binding)) beside its \(program.buffers.count) buffers; this device has \(limits.maxStorageBuffers) storage blocks and bindings below \(limits.maxBindings)",
                fix: "free one binding (use lower binding numbers or fewer buffers)")]))
        }
        let clock = ContinuousClock()
        let start = clock.now
        let parameterNames = validated.analysis.parameters.sorted()
        let uniforms = [lowered.foreverBudgetUniform ?? ""] + program.buffers.map { lowered.lengthUniforms[$0.name] ?? "" }
            + parameterNames.map { lowered.parameterUniforms[$0] ?? "" }
        // Binaries can be kept only where the driver offers a format.
        let cache = info.programBinaryFormats > 0 ? programCache : nil
        let key = cache.map { _ in ProgramBinaryCache.Key(source: lowered.source, identity: driverIdentity) }
        let cached = key.flatMap { cache?.load($0) }
        let (name, locations, binary, loaded) = try onThread { gl throws(VyreGLError) in
            var name = cached.flatMap { gl.loadProgramBinary($0) }
            let loaded = name != nil
            if name == nil { name = try gl.compileCompute(lowered, retrievable: cache != nil) }
            let binary = cache != nil && !loaded ? gl.programBinary(name!) : nil
            return (name!, uniforms.map { $0.isEmpty ? -1 : glGetUniformLocation(name!, $0) }, binary, loaded)
        }
        let elapsed = clock.now - start
        if let key, let cache {
            if cached != nil && !loaded {
                logger.debug("the driver refused a cached program binary; compiled again", metadata: ["hash": "\(validated.contentHash.short)"])
                cache.remove(key)
            }
            if let binary { cache.store(key, binary) }
        }
        logger.debug(loaded ? "loaded cached compute program" : "compiled compute program",
                     metadata: ["hash": "\(validated.contentHash.short)", "ms": "\(elapsed.milliseconds)"])
        let lengths = zip(program.buffers, locations.dropFirst()).compactMap { decl, location in
            location >= 0 ? (decl.binding, location, decl.elementType.byteCount) : nil
        }
        let parameters = zip(parameterNames, locations.dropFirst(1 + program.buffers.count)).map { ($0, $1) }
        return ComputePipeline(program: program, lowered: lowered, contentHash: validated.contentHash, compileTime: elapsed, fromCache: loaded, name: name,
                               context: self, budgetLocation: locations[0], lengthLocations: lengths, parameterLocations: parameters)
    }
}

extension GLContext {
    /// The driver a program binary of this context comes from.
    public var driverIdentity: DriverIdentity {
        DriverIdentity(vendor: info.vendor, renderer: info.renderer, glVersion: info.glVersion)
    }

    /// Compiles and links raw GLSL compute source, then deletes it: a driver check, not a pipeline.
    /// Returns the driver's (warning) log and the compile time.
    public func compileRawGLSL(_ source: String) throws(VyreGLError) -> (log: String, time: Duration) {
        let lowered = LoweredProgram(source: source, statusBinding: nil, foreverBudgetUniform: nil, features: [], lines: [])
        let clock = ContinuousClock()
        let start = clock.now
        return try onThread { gl throws(VyreGLError) in
            var warnings = ""
            let name = try gl.compileCompute(lowered, warnings: &warnings)
            glDeleteProgram(name)
            return (warnings, clock.now - start)
        }
    }
}

extension GLState {
    func compileCompute(_ lowered: LoweredProgram) throws(VyreGLError) -> UInt32 {
        var warnings = ""
        return try compileCompute(lowered, warnings: &warnings)
    }

    func compileCompute(_ lowered: LoweredProgram, retrievable: Bool) throws(VyreGLError) -> UInt32 {
        var warnings = ""
        return try compileCompute(lowered, warnings: &warnings, retrievable: retrievable)
    }

    /// A program linked from a cached binary, or nil when the driver refuses it (another driver
    /// build, a damaged binary): the caller compiles instead.
    func loadProgramBinary(_ binary: ProgramBinaryCache.Binary) -> UInt32? {
        let program = glCreateProgram()
        binary.bytes.withUnsafeBytes { glProgramBinary(program, GLenum(binary.format), $0.baseAddress, GLsizei($0.count)) }
        var ok: GLint = 0
        glGetProgramiv(program, GLenum(GL_LINK_STATUS), &ok)
        // A refused binary leaves GL_INVALID_ENUM or GL_INVALID_VALUE behind on some drivers.
        while glGetError() != GLenum(GL_NO_ERROR) {}
        if ok == 0 {
            glDeleteProgram(program)
            return nil
        }
        return program
    }

    /// The linked binary of `program`, or nil when the driver gives none.
    func programBinary(_ program: UInt32) -> ProgramBinaryCache.Binary? {
        var length: GLint = 0
        glGetProgramiv(program, GLenum(GL_PROGRAM_BINARY_LENGTH), &length)
        guard length > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        var written: GLsizei = 0
        var format: GLenum = 0
        bytes.withUnsafeMutableBytes { glGetProgramBinary(program, length, &written, &format, $0.baseAddress) }
        let failed = glGetError() != GLenum(GL_NO_ERROR)
        while glGetError() != GLenum(GL_NO_ERROR) {}
        guard !failed, written > 0 else { return nil }
        return ProgramBinaryCache.Binary(format: UInt32(format), bytes: Array(bytes.prefix(Int(written))))
    }

    /// Compiles and links; `warnings` gets what the driver logged for a program it accepted.
    /// `retrievable` asks the driver to keep the linked binary for ``programBinary(_:)``.
    func compileCompute(_ lowered: LoweredProgram, warnings: inout String, retrievable: Bool = false) throws(VyreGLError) -> UInt32 {
        let shader = glCreateShader(GLenum(GL_COMPUTE_SHADER))
        defer { glDeleteShader(shader) }
        lowered.source.withCString { text in
            var pointer: UnsafePointer<GLchar>? = text
            glShaderSource(shader, 1, &pointer, nil)
        }
        glCompileShader(shader)
        var ok: GLint = 0
        glGetShaderiv(shader, GLenum(GL_COMPILE_STATUS), &ok)
        if ok == 0 {
            let log = infoLog(shader, isProgram: false)
            let line = GLState.firstErrorLine(in: log)
            let location = line.flatMap { lowered.location(ofLine: $0) }
            throw .compileFailed(log: log, glslLine: line, irPath: location?.path, region: location?.region)
        }
        let program = glCreateProgram()
        if retrievable { glProgramParameteri(program, GLenum(GL_PROGRAM_BINARY_RETRIEVABLE_HINT), GL_TRUE) }
        glAttachShader(program, shader)
        glLinkProgram(program)
        glDetachShader(program, shader)
        glGetProgramiv(program, GLenum(GL_LINK_STATUS), &ok)
        if ok == 0 {
            let log = infoLog(program, isProgram: true)
            glDeleteProgram(program)
            // NVIDIA compiles at link time and reports source lines there: map them like compile errors.
            if let line = GLState.firstErrorLine(in: log) {
                let location = lowered.location(ofLine: line)
                throw .compileFailed(log: log, glslLine: line, irPath: location?.path, region: location?.region)
            }
            throw .linkFailed(log: log)
        }
        try check("glLinkProgram")
        warnings = [infoLog(shader, isProgram: false), infoLog(program, isProgram: true)]
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty && $0 != Self.noLog }
            .joined(separator: "\n")
        return program
    }

    private static let noLog = "(the driver gave no log)"

    private func infoLog(_ object: GLuint, isProgram: Bool) -> String {
        var length: GLint = 0
        if isProgram { glGetProgramiv(object, GLenum(GL_INFO_LOG_LENGTH), &length) } else { glGetShaderiv(object, GLenum(GL_INFO_LOG_LENGTH), &length) }
        guard length > 0 else { return Self.noLog }
        var buffer = [GLchar](repeating: 0, count: Int(length) + 1)
        if isProgram { glGetProgramInfoLog(object, length, nil, &buffer) } else { glGetShaderInfoLog(object, length, nil, &buffer) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The first source line an info log blames: Mesa writes `0:12(5): error`, NVIDIA `0(12) : error`.
    static func firstErrorLine(in log: String) -> Int? {
        for raw in log.split(separator: "\n") {
            let line = Substring(raw)
            if line.hasPrefix("0:"), let end = line.dropFirst(2).firstIndex(where: { !$0.isNumber }), let n = Int(line[line.index(line.startIndex, offsetBy: 2)..<end]) {
                return n
            }
            if line.hasPrefix("0("), let close = line.firstIndex(of: ")"), let n = Int(line[line.index(line.startIndex, offsetBy: 2)..<close]) {
                return n
            }
        }
        return nil
    }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1e3 + Double(components.attoseconds) * 1e-15 }
    var microseconds: Double { Double(components.seconds) * 1e6 + Double(components.attoseconds) * 1e-12 }
}
