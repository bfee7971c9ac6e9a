public import VyreIR

// Buffers made from a dispatch's starting contents. Sizes are checked against the device before
// anything is allocated, and zeros are cleared on the device, never made on the host: a declared
// count of billions of elements is an error, not a host allocation.

extension GLContext {
    /// A device-local buffer for the buffer `name`, starting with `contents`, after checking that
    /// the device can bind that size: zeros are never made on the host.
    public func makeDeviceBuffer(_ name: String, _ contents: BufferContents) throws(VyreGLError) -> DeviceBuffer {
        try checkBindable(name, words: contents.wordCount)
        switch contents {
        case .words(let w): return try makeDeviceBuffer(words: w)
        case .zeros(let n): return try makeDeviceBuffer(bytes: n * 4)
        }
    }

    /// A persistently mapped buffer named `name` (for errors) holding `contents`, after the same
    /// check.
    public func makeMappedBuffer(_ name: String, _ contents: BufferContents, placement: MappedPlacement = .driverChoice,
                                 access: MappedAccess = .concurrent) throws(VyreGLError) -> MappedBuffer {
        try checkBindable(name, words: contents.wordCount)
        let buffer = try makeMappedBuffer(bytes: contents.wordCount * 4, placement: placement, access: access)
        if case .words(let w) = contents { buffer.write(w, atWord: 0) }
        return buffer
    }

    /// Throws ``VyreGLError/bufferTooLarge(name:bytes:limit:)`` when one binding of `words` words is
    /// over `GL_MAX_SHADER_STORAGE_BLOCK_SIZE`, before anything of that size is allocated.
    public func checkBindable(_ name: String, words: Int) throws(VyreGLError) {
        let bytes = UInt64(words) * 4
        if bytes > info.limits.maxStorageBlockBytes {
            throw .bufferTooLarge(name: name, bytes: bytes, limit: info.limits.maxStorageBlockBytes)
        }
    }
}
