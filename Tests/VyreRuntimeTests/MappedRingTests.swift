import Testing
import VyreGL
import VyreProtocol
import VyreRuntime

/// The protocol's publisher on a persistently mapped buffer (the host-array path is tested in
/// VyreProtocolTests).
struct MappedRingTests {
    @Test func publisherWritesMappedRingsWithReleaseOrdering() throws {
        let ring = try Shared.context.makeMappedBuffer(bytes: 4 * 16 * 4)
        try RingPublisher.publish([WorkItem(.atomicAdd, args: [3, 301])], at: 2, into: ring)
        #expect(ring.read(words: 32..<38) == [1, 2, 0, 2, 3, 301])
        #expect(throws: ProtocolError.slotBusy(slot: 2, status: 1)) { try RingPublisher.publish([WorkItem(.nop)], at: 2, into: ring) }
    }
}
