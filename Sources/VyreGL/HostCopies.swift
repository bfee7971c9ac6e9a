import CEGL
import VyreGLSL

/// Where a context cannot map buffers persistently (OpenGL ES without `GL_EXT_buffer_storage`,
/// OpenGL 4.3 without `GL_ARB_buffer_storage`, or `VYRE_GL_LIMITS=es31-core`), a mapped buffer
/// made for ``MappedAccess/betweenSubmissions`` is a copy in host memory: every submission that
/// binds it uploads the bound bytes first, and reads them back (and the ranges it copies into
/// the buffer) once its fence has signalled. The host sees the GPU's writes exactly where a
/// coherent mapping would show them to a host that only looks between submissions.
///
/// The status block is such a copy too. Its abort word then cannot reach running work: a
/// submission past its timeout is not stopped early (every loop is bounded by the loop guard),
/// and its complete results come back once it ends within the grace.
struct HostCopy {
    let base: UnsafeMutableRawPointer
    let bytes: Int

    /// `bytes` zero bytes of host memory.
    init(bytes: Int) {
        self.bytes = bytes
        base = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }

    func free() { base.deallocate() }
}

/// A buffer range a submission touches that is a host copy: `upload` when bound or copied from
/// (its bytes go up first), and the parts of it the work may write read back after.
struct HostCopyUse {
    let name: UInt32
    let bytes: Range<Int>
    let upload: Bool
    let readBack: [Range<Int>]
}

extension GLState {
    /// Mutable storage (`glBufferData`) for a context without buffer storage; a mapped buffer gets
    /// a host copy in place of its mapping (see ``HostCopy``).
    func createMutableBuffer(bytes: Int, map: Bool, initial: [UInt32]?, zeroed: Bool) throws(VyreGLError) -> (name: UInt32, base: UnsafeMutableRawPointer?) {
        let data = initial.flatMap { $0.count * 4 == bytes ? $0 : nil }
        // A host copy is uploaded whole before any use: the GL storage needs no clear.
        let clear = zeroed && data == nil && !map
        let zeros: UInt32? = api == .gles && clear ? try zeroPiece() : nil
        var name: GLuint = 0
        glGenBuffers(1, &name)
        let target = GLenum(GL_COPY_WRITE_BUFFER)
        glBindBuffer(target, name)
        defer { glBindBuffer(target, 0) }
        if let data {
            data.withUnsafeBytes { glBufferData(target, bytes, $0.baseAddress, GLenum(GL_DYNAMIC_DRAW)) }
        } else {
            glBufferData(target, bytes, nil, GLenum(GL_DYNAMIC_DRAW))
        }
        do throws(VyreGLError) {
            let e = glGetError()
            if e != GLenum(GL_NO_ERROR) {
                if GLErrorCode(e).isOutOfMemory { throw .outOfDeviceMemory(bytes: bytes, detail: "glBufferData") }
                throw .glFailure(call: "glBufferData(\(bytes) bytes)", code: GLErrorCode(e))
            }
            if clear {
                zero(target, bytes: bytes, copyingFrom: zeros)
                try check(api == .gl ? "glClearBufferSubData" : "glCopyBufferSubData (zeroing)")
            }
        } catch {
            glDeleteBuffers(1, &name)
            throw error
        }
        guard map else { return (name, nil) }
        let copy = HostCopy(bytes: bytes)
        hostCopies[name] = copy
        return (name, copy.base)
    }

    /// The host copies a submission touches: its bound buffers (the bound bytes, uploaded first,
    /// read back but for the bytes `readOnly` names by binding), the sources of its copies
    /// (uploaded first) and their destinations (read back).
    func hostCopiesUsed(bindings: [(UInt32, UInt32, Int)], readOnly: [UInt32: Range<Int>], status: StatusBlock?, copies: [BufferCopy]) -> [HostCopyUse] {
        guard !hostCopies.isEmpty else { return [] }
        var used: [HostCopyUse] = []
        for (binding, name, bytes) in bindings where hostCopies[name] != nil {
            let bound = 0..<bytes
            var written = [bound]
            if let unread = readOnly[binding]?.clamped(to: bound), !unread.isEmpty {
                written = [bound.lowerBound..<unread.lowerBound, unread.upperBound..<bound.upperBound].filter { !$0.isEmpty }
            }
            used.append(HostCopyUse(name: name, bytes: bound, upload: true, readBack: written))
        }
        if let status, hostCopies[status.buffer] != nil {
            let words = 0..<(LoweredProgram.StatusWord.words * 4)
            used.append(HostCopyUse(name: status.buffer, bytes: words, upload: true, readBack: [words]))
        }
        for c in copies {
            if hostCopies[c.source.name] != nil {
                let start = c.sourceWordOffset * 4
                used.append(HostCopyUse(name: c.source.name, bytes: start..<(start + c.words * 4), upload: true, readBack: []))
            }
            if hostCopies[c.destination.name] != nil {
                let start = c.destinationWordOffset * 4
                let range = start..<(start + c.words * 4)
                used.append(HostCopyUse(name: c.destination.name, bytes: range, upload: false, readBack: [range]))
            }
        }
        return used
    }

    /// The uploads left for GL once those into host copies are written there: the copy is what
    /// the next submission that binds the buffer uploads, so it must hold them.
    func intoHostCopies(_ uploads: [BufferUpload]) -> [BufferUpload] {
        guard !hostCopies.isEmpty else { return uploads }
        return uploads.filter { u in
            // Out of range: left to GL, whose upload reports it.
            guard let copy = hostCopies[u.buffer.name], u.wordOffset >= 0, (u.wordOffset + u.words.count) * 4 <= copy.bytes else { return true }
            u.words.withUnsafeBytes { (copy.base + u.wordOffset * 4).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            return false
        }
    }

    /// Host-copy uploads of at least this many bytes in all go through the staging buffer.
    static let stagedUploadBytes = 1 << 20

    /// Uploads the bound host copies (before the submission's work): small ones by
    /// `glBufferSubData`, large ones written into the mapped staging buffer and copied from there
    /// on the GPU.
    func upload(_ used: [HostCopyUse]) throws(VyreGLError) {
        let uploads = used.filter { $0.upload && !$0.bytes.isEmpty }
        guard !uploads.isEmpty else { return }
        let bytes = uploads.reduce(0) { $0 + $1.bytes.count }
        if bytes >= Self.stagedUploadBytes && bytes <= Self.keptStagingBytes, try stagedUpload(uploads, bytes: bytes) { return }
        let target = GLenum(GL_COPY_WRITE_BUFFER)
        for use in uploads {
            glBindBuffer(target, use.name)
            glBufferSubData(target, use.bytes.lowerBound, use.bytes.count, hostCopies[use.name]!.base + use.bytes.lowerBound)
        }
        glBindBuffer(target, 0)
        try check("glBufferSubData (\(uploads.count) host copies)")
    }

    /// `uploads` (`bytes` in all) written into the staging buffer through one map and copied into
    /// their buffers on the GPU; false, with nothing copied, when the driver lost the mapped bytes
    /// (`glUnmapBuffer` false), so the caller uploads them plainly.
    private func stagedUpload(_ uploads: [HostCopyUse], bytes: Int) throws(VyreGLError) -> Bool {
        let staging = try stagingBuffer(bytes: bytes)
        let source = GLenum(GL_COPY_READ_BUFFER), target = GLenum(GL_COPY_WRITE_BUFFER)
        glBindBuffer(source, staging)
        defer {
            glBindBuffer(source, 0)
            glBindBuffer(target, 0)
        }
        // Invalidated: the driver need not wait for the staging buffer's last use.
        guard let mapped = glMapBufferRange(source, 0, bytes, GLbitfield(GL_MAP_WRITE_BIT | GL_MAP_INVALIDATE_BUFFER_BIT)) else {
            try check("glMapBufferRange(write, \(bytes) bytes)")
            throw .outOfDeviceMemory(bytes: bytes, detail: "glMapBufferRange returned no pointer for an upload")
        }
        var offset = 0
        for use in uploads {
            (mapped + offset).copyMemory(from: hostCopies[use.name]!.base + use.bytes.lowerBound, byteCount: use.bytes.count)
            offset += use.bytes.count
        }
        guard glUnmapBuffer(source) == GLboolean(GL_TRUE) else { return false }
        offset = 0
        for use in uploads {
            glBindBuffer(target, use.name)
            glCopyBufferSubData(source, target, offset, use.bytes.lowerBound, use.bytes.count)
            offset += use.bytes.count
        }
        try check("glCopyBufferSubData (\(uploads.count) host copies from the staging buffer)")
        return true
    }

    /// Reads the used host copies back from the device in one go (after the submission's fence;
    /// no other thread touches them then: the watchdog is disarmed).
    func readBack(_ used: [HostCopyUse]) throws(VyreGLError) {
        var reads: [BufferRead] = []
        for use in used {
            for range in use.readBack { reads.append(BufferRead(name: use.name, bytes: range, destination: hostCopies[use.name]!.base + range.lowerBound)) }
        }
        try read(reads)
    }
}
