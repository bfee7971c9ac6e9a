import Testing
import VyreIR

struct BuilderTests {
    @Test func builderProducesTheSpelledOutTree() {
        let built = Program(buffers: [BufferDecl("b", binding: 0, access: .readWrite, type: .u32, count: 4)], workgroupSize: WorkgroupSize(4)) {
            Node.let("i", .globalID(.x))
            Node.if("i" < 2) {
                Node.store("b", at: "i", "i" * 3 + 1)
            } else: {
                Node.store("b", at: "i", .atomic(.add, "b", at: 0, 1))
            }
            Node.for("k", from: 0, to: 2) { Node.barrier(.bufferMemory) }
        }
        let spelled: [Node] = [
            .let("i", .builtin(.globalInvocationID(.x))),
            .if(.binary(.lt, .variable("i"), .literal(.u32(2))),
                then: [.store("b", index: .variable("i"), value: .binary(.add, .binary(.mul, .variable("i"), .literal(.u32(3))), .literal(.u32(1))))],
                else: [.store("b", index: .variable("i"), value: .atomic(.add, "b", index: .literal(.u32(0)), value: .literal(.u32(1))))]),
            .for("k", from: .literal(.u32(0)), to: .literal(.u32(2)), body: [.barrier(.bufferMemory)]),
        ]
        #expect(built.entry == spelled)
    }
}
