public import VyreIR
import Foundation

/// The JSON form of a megakernel's custom opcodes (what `vyre-gl run --program FILE` reads):
///
/// ```json
/// {"workgroupSize": 128,
///  "buffers": [{"name": "histogram", "binding": 6, "access": "read_write", "type": "u32", "count": 16}],
///  "opcodes": [{"opcode": 1073741824, "name": "HIST_ADD", "body": [...IR statements...]}]}
/// ```
///
/// Decoded strictly like programs: unknown and duplicate keys are errors with their JSON path.
extension MegakernelConfiguration {
    /// Keys an opcode program document may have; any other is an error.
    public static let jsonKeys: Set<String> = ["workgroupSize", "buffers", "opcodes"]
    /// Keys a handler may have.
    public static let handlerKeys: Set<String> = ["opcode", "name", "body"]

    /// Parses and checks an opcode program document; every error names the JSON path and has a Fix.
    /// Handler bodies are decoded, not validated: ``program(limits:)`` does that.
    public init(json: some Collection<UInt8>) throws(ProgramJSONError) {
        self = try ProgramJSONError.decode(OpcodeProgramDocument.self, from: json,
                                           otherwise: "check the document against the opcode program form in the README").configuration
    }
}

extension MegakernelConfiguration {
    /// The JSON form ``init(json:)`` reads, keys sorted: a resident kernel's recording keeps its
    /// opcodes this way.
    public func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every value has a JSON spelling: encoding cannot fail.
        return Array(try! encoder.encode(OpcodeProgramDocument(configuration: self)))
    }
}

struct OpcodeProgramDocument: Codable {
    init(configuration: MegakernelConfiguration) {
        self.configuration = configuration
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode(configuration.workgroupSize, forKey: "workgroupSize")
        try c.encode(configuration.extraBuffers, forKey: "buffers")
        var list = c.nestedUnkeyedContainer(forKey: "opcodes")
        for h in configuration.opcodes {
            var e = list.nestedContainer(keyedBy: JSONKey.self)
            try e.encode(h.opcode, forKey: "opcode")
            try e.encode(h.name, forKey: "name")
            try e.encode(h.body, forKey: "body")
        }
    }

    var configuration: MegakernelConfiguration

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        try c.allow(MegakernelConfiguration.jsonKeys)
        let handlers = try c.requiredList("opcodes", fix: "add \"opcodes\": [{\"opcode\": 1073741824, \"name\": \"MY_OP\", \"body\": [...]}]") { decoder in
            let h = try decoder.container(keyedBy: JSONKey.self)
            try h.allow(MegakernelConfiguration.handlerKeys)
            let opcode = try h.integer("opcode", UInt32.self)
            let name = h.contains("name") ? try h.name("name") : "opcode \(opcode)"
            guard Identifier.isValidRegionName(name) else {
                throw h.fail("name", "the name is empty, longer than 128 characters or holds a control character", fix: "use a short one-line name such as \"HIST_ADD\"")
            }
            return OpcodeHandler(opcode: opcode, name: name, body: try h.nodes("body"))
        }
        let workgroupSize = try c.integerIfPresent("workgroupSize", UInt32.self) ?? MegakernelConfiguration().workgroupSize
        guard workgroupSize >= 1 else { throw c.fail("workgroupSize", "0 lanes per workgroup", fix: "use 1 or more (the device's maximum is in 'vyre-gl info')") }
        configuration = MegakernelConfiguration(workgroupSize: workgroupSize, opcodes: handlers,
                                                extraBuffers: try c.decodeIfPresent([BufferDecl].self, forKey: "buffers") ?? [])
    }
}
