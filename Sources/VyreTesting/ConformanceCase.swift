public import VyreIR

/// One program with inputs, whose GPU result must equal the reference interpreter's.
public struct ConformanceCase: Sendable {
    /// Names the case in reports.
    public var name: String
    /// The program run on the device and in the interpreter.
    public var program: Program
    /// Workgroups to dispatch.
    public var grid: WorkgroupSize
    /// Initial buffer contents by name; buffers left out start zeroed at their declared count.
    public var inputs: [String: [UInt32]]
    /// Iterations each `forever` loop may run, on the device and in the interpreter alike.
    public var foreverBudget: UInt32
    /// Buffers whose f32 elements may differ within a tolerance (GLSL leaves these operations'
    /// precision to the driver); every other buffer must match bit for bit.
    public var tolerances: [String: FloatTolerance]
    /// Capabilities the device must have for this case to run.
    public var requires: Set<Capability>
    /// Values of the program's parameters.
    public var parameters: [String: UInt32]

    /// ``parameters`` less those the program does not read (generated cases carry p0 and p1
    /// whether or not their program reads them): what an inputs file for the program holds.
    public var parametersTheProgramReads: [String: UInt32] {
        let read = program.parameterNames
        return parameters.filter { read.contains($0.key) }
    }
    /// The program loops more than some drivers allow one invocation (llvmpipe: 65,535 iterations
    /// in all). On such a driver the case passes only with the runtime's typed loop-limit error;
    /// everywhere else it must match the interpreter.
    public var longLoops: Bool

    /// A case; by default one workgroup, no inputs, a forever budget of 64, exact comparison and no
    /// required capabilities.
    public init(name: String, program: Program, grid: WorkgroupSize = WorkgroupSize(1), inputs: [String: [UInt32]] = [:],
                foreverBudget: UInt32 = 64, tolerances: [String: FloatTolerance] = [:], requires: Set<Capability> = [],
                parameters: [String: UInt32] = [:], longLoops: Bool = false) {
        self.parameters = parameters
        self.longLoops = longLoops
        self.name = name
        self.program = program
        self.grid = grid
        self.inputs = inputs
        self.foreverBudget = foreverBudget
        self.tolerances = tolerances
        self.requires = requires
    }
}

/// How far an f32 result may be from the reference: within `ulps` units in the last place, or
/// within `absolute`. NaN matches NaN whatever its payload.
public struct FloatTolerance: Sendable, Hashable {
    /// Largest distance in units in the last place.
    public var ulps: UInt32
    /// Largest absolute difference accepted whatever the distance in ulps.
    public var absolute: Float

    /// A tolerance of `ulps` units in the last place, or `absolute`.
    public init(ulps: UInt32, absolute: Float = 0) {
        self.ulps = ulps
        self.absolute = absolute
    }

    /// GLSL 4.30's precision for division and square root.
    public static let divisionAndRoot = FloatTolerance(ulps: 3)
    /// GLSL 4.30's bounds for exp, exp2, log, log2, sin and cos on moderate inputs.
    public static let transcendental = FloatTolerance(ulps: 64, absolute: 1.0 / 2048)

    /// Whether `got` is close enough to `want`: equal, within ``absolute``, or finite, of the same
    /// sign and within ``ulps``; NaN accepts only NaN.
    public func accepts(_ got: Float, _ want: Float) -> Bool {
        if got.isNaN || want.isNaN { return got.isNaN && want.isNaN }
        if got == want { return true }
        if Swift.abs(got - want) <= absolute { return true }
        guard got.sign == want.sign, got.isFinite, want.isFinite else { return false }
        let a = got.bitPattern & 0x7FFF_FFFF
        let b = want.bitPattern & 0x7FFF_FFFF
        return (a > b ? a - b : b - a) <= ulps
    }

    /// Whether an f64 `got` is close enough to `want` (the same rule as for f32).
    public func accepts(_ got: Double, _ want: Double) -> Bool {
        if got.isNaN || want.isNaN { return got.isNaN && want.isNaN }
        if got == want { return true }
        if Swift.abs(got - want) <= Double(absolute) { return true }
        guard got.sign == want.sign, got.isFinite, want.isFinite else { return false }
        let a = got.bitPattern & 0x7FFF_FFFF_FFFF_FFFF
        let b = want.bitPattern & 0x7FFF_FFFF_FFFF_FFFF
        return (a > b ? a - b : b - a) <= UInt64(ulps)
    }

    /// The allowance docs/semantics.md gives `program`'s float results on a device: none when
    /// every float operation it computes is correctly rounded, ``divisionAndRoot`` once it
    /// divides floats or takes a square root, ``transcendental`` once it calls exp, exp2, log,
    /// log2, sin or cos. It applies to the program's float outputs; a value that an approximate
    /// result flowed into through a cast or a comparison may still differ beyond it.
    public static func documented(for validated: ValidatedProgram) -> FloatTolerance? {
        struct Approximations: ProgramVisitor {
            let analysis: ProgramAnalysis
            var tolerance: FloatTolerance?
            mutating func visit(_ expr: Expr, at path: String, depth: Int) {
                switch expr {
                case .unary(let op, _) where op.isApproximate && op != .sqrt:
                    tolerance = .transcendental
                case .unary(.sqrt, _):
                    if tolerance == nil { tolerance = .divisionAndRoot }
                case .binary(.div, _, _) where analysis.type(at: path).isFloat:
                    if tolerance == nil { tolerance = .divisionAndRoot }
                default:
                    break
                }
            }
        }
        var visitor = Approximations(analysis: validated.analysis)
        validated.program.walk(&visitor)
        return visitor.tolerance
    }
}
