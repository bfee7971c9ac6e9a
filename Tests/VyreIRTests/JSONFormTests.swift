import Testing
import VyreIR

struct JSONFormTests {
    static let doubler = """
    {
      "workgroup_size": [64],
      "buffers": [
        {"name": "data", "binding": 0, "access": "read_write", "type": "u32"}
      ],
      "entry": [
        {"let": "i", "value": {"builtin": "global_id.x"}},
        {"if": {"op": "lt", "args": ["i", {"length": "data"}]}, "then": [
          {"store": "data", "index": "i", "value": {"op": "mul", "args": [{"load": "data", "index": "i"}, 2]}}
        ]}
      ]
    }
    """

    @Test func handWrittenProgramParsesAndRuns() throws {
        let p = try Program(json: Array(Self.doubler.utf8))
        let built = Program(buffers: [BufferDecl("data", binding: 0, access: .readWrite, type: .u32)], workgroupSize: WorkgroupSize(64)) {
            Node.let("i", .globalID(.x))
            Node.if("i" < .length("data")) {
                Node.store("data", at: "i", .load("data", at: "i") * 2)
            }
        }
        #expect(p == built)
        let r = try Interpreter().run(p, grid: WorkgroupSize(1), buffers: ["data": [1, 2, 3]])
        #expect(r.buffers["data"] == [2, 4, 6])
    }

    @Test(arguments: [
        ("{\"entry\": [{\"let\": \"x\", \"vaule\": 1}]}", "entry[0].vaule", "unknown key"),
        ("{\"entry\": [{\"store\": \"o\", \"index\": 0}]}", "entry[0].value", "missing"),
        ("{\"entry\": [{\"let\": \"x\", \"value\": {\"op\": \"frobnicate\", \"args\": [1]}}]}", "entry[0].value.op", "unknown operator"),
        ("{\"entry\": [{\"let\": \"x\", \"value\": {\"u32\": -1}}]}", "entry[0].value.u32", "outside 0...4294967295"),
        ("{\"buffers\": [{\"name\": \"a\", \"binding\": 0, \"access\": \"rw\", \"type\": \"u32\"}]}", "buffers[0].access", "not one of"),
        ("{\"entry\": [\"jump\"]}", "entry[0]", "not a statement"),
        ("{\"entry\": [", "entry[0]", "not valid JSON at line 1, column 12"),
        ("{\"workgroup_size\": [1, 2, 3, 4]}", "workgroup_size", "1 to 3"),
    ])
    func malformedDocumentsNameThePath(_ text: String, _ path: String, _ problem: String) {
        do {
            _ = try Program(json: Array(text.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.path == path)
            #expect(error.problem.contains(problem), "problem was: \(error.problem)")
            #expect(error.description.contains("Fix: "))
        }
    }
}
