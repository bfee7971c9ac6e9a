import VyreIR

/// GLSL functions the writer calls where a GLSL operator's meaning differs from the IR's (division
/// by zero, signed remainder, float-to-int saturation, NaN-exact min/max, bit counts). Each is
/// emitted once, only when used, in name order.
struct Helper: Hashable, Comparable {
    let name: String
    let source: String

    static func < (a: Helper, b: Helper) -> Bool { a.name < b.name }

    static func divide(_ t: DataType, remainder: Bool) -> Helper {
        let s = Conv.scalar(t)
        let name = "vy_\(remainder ? "rem" : "div")_\(t.rawValue)"
        if !t.isSignedInteger {
            let z = Conv.zero(t)
            return Helper(name: name, source: "\(s) \(name)(\(s) a, \(s) b) { return b == \(z) ? \(z) : a \(remainder ? "%" : "/") b; }")
        }
        // Signed division through magnitudes: GLSL leaves negative operands of % undefined, and this
        // also pins MIN / -1 to MIN (wrapped) and MIN % -1 to 0.
        let u = t == .i32 ? "uint" : "uint64_t"
        let z = Conv.zero(t)
        let body = remainder
            ? "\(u) r = ua % ub;\n    return a < \(z) ? -\(s)(r) : \(s)(r);"
            : "\(u) q = ua / ub;\n    return (a < \(z)) != (b < \(z)) ? -\(s)(q) : \(s)(q);"
        return Helper(name: name, source: """
            \(s) \(name)(\(s) a, \(s) b) {
                if (b == \(z)) return \(z);
                \(u) ua = a < \(z) ? \(u)(-a) : \(u)(a);
                \(u) ub = b < \(z) ? \(u)(-b) : \(u)(b);
                \(body)
            }
            """)
    }

    static func absolute(_ t: DataType) -> Helper {
        let s = Conv.scalar(t)
        return Helper(name: "vy_abs_\(t.rawValue)", source: "\(s) vy_abs_\(t.rawValue)(\(s) x) { return x < \(Conv.zero(t)) ? -x : x; }")
    }

    /// GLSL defines min(x, y) as `y < x ? y : x`; hardware min instructions disagree on NaN and
    /// signed zero, so the definition is written out.
    static func minMax(_ t: DataType, max: Bool, precise: Bool) -> Helper {
        let s = Conv.scalar(t)
        let name = "vy_\(max ? "max" : "min")_\(t.rawValue)"
        let test = max ? "a < b" : "b < a"
        guard precise else {
            // Without precise, compilers turn a select of the operands by their comparison into a
            // min/max instruction (min(+0, -0) was -0 on llvmpipe), and see through bit casts and
            // through a select of operands XORed alike. So the bits are picked with a mask that
            // passes through vy_zero. f32 only: no target without precise has doubles.
            return Helper(name: name, source: """
                \(s) \(name)(\(s) a, \(s) b) {
                    uint pick = (\(test) ? 0xFFFFFFFFu : 0u) ^ vy_zero;
                    return uintBitsToFloat((floatBitsToUint(b) & pick) | (floatBitsToUint(a) & ~pick));
                }
                """)
        }
        // The precise result stops compilers from turning the select into a min/max instruction,
        // which would disagree on signed zero and NaN.
        return Helper(name: name, source: "\(s) \(name)(\(s) a, \(s) b) {\n    precise \(s) r = \(test) ? b : a;\n    return r;\n}")
    }

    /// The IR's f32 `fma` without doubles (GLSL ES): the exact product plus `c`, rounded to 53
    /// bits and then to a float, in integer arithmetic on 64-bit pairs (`uvec2`, low word first).
    /// The larger of product and addend is placed with its top bit at bit 61, the smaller beside
    /// it; bits that fall below bit 0 only matter as "something was there" (they can only do so
    /// when the two are 15 or more bits apart, so the sum keeps 60 bits), and are kept as a
    /// sticky bit that rounds like them. No loops, so no loop budget is spent.
    static let fmaF32 = Helper(name: "vy_fma_f32", source: """
        uvec2 vy_shl64(uvec2 v, int k) {
            if (k == 0) return v;
            if (k >= 64) return uvec2(0u);
            if (k >= 32) return uvec2(0u, v.x << uint(k - 32));
            return uvec2(v.x << uint(k), (v.y << uint(k)) | (v.x >> uint(32 - k)));
        }
        uvec2 vy_shr64(uvec2 v, int k) {
            if (k == 0) return v;
            if (k >= 64) return uvec2(0u);
            if (k >= 32) return uvec2(v.y >> uint(k - 32), 0u);
            return uvec2((v.x >> uint(k)) | (v.y << uint(32 - k)), v.y >> uint(k));
        }
        int vy_msb64(uvec2 v) { return v.y != 0u ? 32 + findMSB(v.y) : findMSB(v.x); }
        bool vy_lt64(uvec2 a, uvec2 b) { return a.y < b.y || (a.y == b.y && a.x < b.x); }
        uvec2 vy_add64(uvec2 a, uvec2 b) { uint c; uint lo = uaddCarry(a.x, b.x, c); return uvec2(lo, a.y + b.y + c); }
        uvec2 vy_sub64(uvec2 a, uvec2 b) { uint c; uint lo = usubBorrow(a.x, b.x, c); return uvec2(lo, a.y - b.y - c); }
        // v / 2^k rounded to nearest even (k >= 1, v < 2^63).
        uvec2 vy_round64(uvec2 v, int k) {
            if (k >= 64) return uvec2(0u);
            uvec2 q = vy_shr64(v, k);
            uvec2 rest = vy_sub64(v, vy_shl64(q, k));
            uvec2 mid = vy_shl64(uvec2(1u, 0u), k - 1);
            if (vy_lt64(mid, rest) || (rest == mid && (q.x & 1u) != 0u)) q = vy_add64(q, uvec2(1u, 0u));
            return q;
        }
        float vy_fma_f32(float a, float b, float c) {
            uint ua = floatBitsToUint(a);
            uint ub = floatBitsToUint(b);
            uint uc = floatBitsToUint(c);
            uint ea = (ua >> 23u) & 0xFFu;
            uint eb = (ub >> 23u) & 0xFFu;
            uint ec = (uc >> 23u) & 0xFFu;
            // Special cases, decided on the bits (no float operation, which a GPU that flushes
            // subnormals would get wrong): an infinite or NaN factor, an infinite or NaN addend
            // with finite factors, a zero product (exact zero plus c is c; two zeros add to -0
            // only when both are negative).
            bool negP = ((ua ^ ub) >> 31u) != 0u;
            bool negC = (uc >> 31u) != 0u;
            uint ma0 = ua & 0x7FFFFFFFu;
            uint mb0 = ub & 0x7FFFFFFFu;
            uint mc0 = uc & 0x7FFFFFFFu;
            if (ea == 255u || eb == 255u) {
                bool nan = ma0 > 0x7F800000u || mb0 > 0x7F800000u || mc0 > 0x7F800000u || ma0 == 0u || mb0 == 0u
                    || (mc0 == 0x7F800000u && negC != negP);
                return uintBitsToFloat(nan ? 0x7FC00000u : ((negP ? 0x80000000u : 0u) | 0x7F800000u));
            }
            if (ec == 255u) return c;
            if (ma0 == 0u || mb0 == 0u) return mc0 != 0u ? c : uintBitsToFloat(negP && negC ? 0x80000000u : 0u);
            uint ma = (ua & 0x7FFFFFu) | (ea != 0u ? 0x800000u : 0u);
            uint mb = (ub & 0x7FFFFFu) | (eb != 0u ? 0x800000u : 0u);
            uint mc = (uc & 0x7FFFFFu) | (ec != 0u ? 0x800000u : 0u);
            uvec2 p;
            umulExtended(ma, mb, p.y, p.x);
            int xp = int(max(ea, 1u)) + int(max(eb, 1u)) - 300;
            int xc = int(max(ec, 1u)) - 150;
            int topP = xp + vy_msb64(p);
            // Larger (L) and smaller (S) magnitude by their top bits; values are m * 2^x.
            uvec2 l = p;
            int xl = xp;
            bool negL = negP;
            uvec2 sm = uvec2(mc, 0u);
            int xs = xc;
            bool negS = negC;
            if (mc != 0u && xc + findMSB(mc) > topP) {
                l = uvec2(mc, 0u); xl = xc; negL = negS;
                sm = p; xs = xp; negS = negP;
            }
            int shiftL = 61 - vy_msb64(l);
            l = vy_shl64(l, shiftL);
            int scale = xl - shiftL; // the window's bit 0 weighs 2^scale
            uint sticky = 0u;
            if (sm != uvec2(0u)) {
                int shiftS = xs - scale;
                if (shiftS >= 0) {
                    sm = vy_shl64(sm, shiftS);
                } else {
                    uvec2 kept = vy_shr64(sm, -shiftS);
                    sticky = vy_shl64(kept, -shiftS) != sm ? 1u : 0u;
                    sm = kept;
                }
            }
            uvec2 r;
            bool negR = negL;
            if (negL == negS) {
                r = vy_add64(l, sm);
            } else {
                // Only exact operands (no sticky bit) can be in the wrong order.
                if (vy_lt64(l, sm)) { uvec2 t = l; l = sm; sm = t; negR = negS; }
                r = vy_sub64(vy_sub64(l, sm), uvec2(sticky, 0u));
            }
            r.x |= sticky;
            if (r == uvec2(0u)) return uintBitsToFloat(vy_zero); // x - x is +0 when rounding to nearest
            // Round to 53 significant bits (a double: no f32 product is outside its normal range).
            int drop = vy_msb64(r) - 52;
            if (drop > 0) { r = vy_round64(r, drop); scale += drop; }
            // Then to a float: 24 significant bits, or down to 2^-149 below the normal range.
            int top = scale + vy_msb64(r);
            drop = top >= -126 ? vy_msb64(r) - 23 : -149 - scale;
            if (drop > 0) { r = vy_round64(r, drop); scale += drop; }
            else if (drop < 0) { r = vy_shl64(r, -drop); scale += drop; }
            uint signBit = negR ? 0x80000000u : 0u;
            // r.x < 2^23 is a subnormal (scale is -149), 2^23..2^24 a normal whose exponent field
            // the addition carries into.
            int field = scale + 149 + int(r.x >> 23u);
            if (r.y != 0u || field >= 255) return uintBitsToFloat(signBit | 0x7F800000u);
            return uintBitsToFloat(signBit | ((uint(scale + 149) << 23u) + r.x));
        }
        """)

    /// Double bit casts through the core pack functions: glslang and some drivers lack the
    /// ARB_gpu_shader_int64 built-ins (doubleBitsToUint64 and friends).
    static let doubleBits = Helper(name: "vy_f64_bits", source: """
        uint64_t vy_f64_bits(double d) {
            uvec2 w = unpackDouble2x32(d);
            return uint64_t(w.x) | (uint64_t(w.y) << 32u);
        }
        """)
    static let doubleFromBits = Helper(name: "vy_f64_from_bits", source: """
        double vy_f64_from_bits(uint64_t b) { return packDouble2x32(uvec2(uint(b & 0xFFFFFFFFul), uint(b >> 32u))); }
        """)

    /// A zero produced by floor, ceil, trunc or round carries the sign of the operand (IEEE 754);
    /// some drivers' double lowering returns +0 instead, so the sign is set explicitly.
    static func zeroSign(_ t: DataType) -> Helper {
        if t == .f32 {
            return Helper(name: "vy_zero_sign_f32", source: """
                float vy_zero_sign_f32(float r, float x) {
                    return r == 0.0 ? uintBitsToFloat(floatBitsToUint(x) & 0x80000000u) : r;
                }
                """)
        }
        return Helper(name: "vy_zero_sign_f64", source: """
            double vy_zero_sign_f64(double r, double x) {
                return r == 0.0lf ? packDouble2x32(uvec2(0u, unpackDouble2x32(x).y & 0x80000000u)) : r;
            }
            """)
    }

    /// Hides a float constant from the compiler: `vy_zero` is a uniform that GL initializes to 0,
    /// so the value is unchanged but no longer foldable. Used for zero and non-finite constants,
    /// which drivers fold unsafely (`x * 0.0` to `0.0` loses the sign and NaN, even under precise).
    static func opaque(_ t: DataType) -> Helper {
        if t == .f32 {
            return Helper(name: "vy_opaque_f32", source: "float vy_opaque_f32(float x) { return uintBitsToFloat(floatBitsToUint(x) ^ vy_zero); }")
        }
        return Helper(name: "vy_opaque_f64", source: "double vy_opaque_f64(double x) { return packDouble2x32(unpackDouble2x32(x) ^ uvec2(vy_zero)); }")
    }

    /// bitCount with a highp result (GLSL ES makes bitCount's lowp; see `Writer`).
    static let popcount = Helper(name: "vy_popcount", source: """
        uint vy_popcount(uint x) { return uint(bitCount(x)); }
        uint vy_popcount(int x) { return uint(bitCount(x)); }
        """)
    /// findMSB and findLSB give lowp results in GLSL ES; these return highp `uint`s.
    /// A float kept apart from the compiler's view of its other uses (the right operand of an add
    /// or subtract, without precise): through an integer add of `vy_zero`, since a value already
    /// hidden by `opaque` would come back out of a second XOR.
    static let apart = Helper(name: "vy_apart_f32", source: "float vy_apart_f32(float x) { return uintBitsToFloat(floatBitsToUint(x) + vy_zero); }")

    static let clz = Helper(name: "vy_clz", source: "uint vy_clz(uint x) { return x == 0u ? 32u : uint(31 - findMSB(x)); }")
    static let ctz = Helper(name: "vy_ctz", source: "uint vy_ctz(uint x) { return x == 0u ? 32u : uint(findLSB(x)); }")

    /// Counts `trips` more loop trips of the invocation (targets without a per-invocation loop
    /// budget) and reads the host's abort word through `vy_aborted` each time the count passes a
    /// multiple of `pollPeriod`; called between chunks of a loop's trips (see `Writer.beginLoop`).
    ///
    /// The word lives in host memory, so reads must be rare and must stay behind the count test:
    /// NVIDIA 580 made a volatile load written as `trips != 1 || word == 0` unconditional and read
    /// across PCIe on every trip (1.2 us each), and 16 atomics per lane on that one word cost
    /// 260 ms of a 0.1 ms kernel. Statement-level branches keep the load rare; loops shorter than
    /// the period add to the count without reading.
    static let poll = Helper(name: "vy_poll", source: """
        bool vy_poll(uint trips) {
            uint before = vy_trips;
            vy_trips += trips;
            if ((before >> \(pollPeriod.trailingZeroBitCount)u) == (vy_trips >> \(pollPeriod.trailingZeroBitCount)u)) return false;
            return vy_aborted();
        }
        """)

    /// Loop trips between two reads of the abort word (a power of two).
    static let pollPeriod = 4096

    /// True once the host has set the abort word: read once as an invocation starts on targets
    /// with a per-invocation loop budget, else between chunks of loop trips. Only a load: the
    /// host knows it set the word (see `StatusWord.abort`).
    static let aborted = Helper(name: "vy_aborted", source: """
        bool vy_aborted() { return vy_status.data[\(LoweredProgram.StatusWord.abort)] != 0u; }
        """)

    /// Records a loop that the driver ended before its own exit, in the invocation's own
    /// variables: the count (the `loop_cuts` builtin) and the first site. No memory traffic here:
    /// llvmpipe runs both sides of every branch under a lane mask, so atomics at each loop's exit
    /// would cost on every trip of an enclosing loop even though the branch is never taken.
    static let loopCut = Helper(name: "vy_loop_cut", source: """
        void vy_loop_cut(uint site) {
            if (vy_loop_cuts == 0u) vy_cut_site = site;
            vy_loop_cuts++;
        }
        """)

    /// Publishes the invocation's cuts to the status block, where the first invocation to report
    /// leaves its first site; called once wherever the invocation ends.
    static let reportCuts = Helper(name: "vy_report_cuts", source: """
        void vy_report_cuts() {
            if (vy_loop_cuts == 0u) return;
            if (atomicAdd(vy_status.data[\(LoweredProgram.StatusWord.cutInvocations)], 1u) != 0u) return;
            vy_status.data[\(LoweredProgram.StatusWord.cutSite)] = vy_cut_site;
            vy_status.data[\(LoweredProgram.StatusWord.cutInvocation)] = vy_invocation_index();
            vy_status.data[\(LoweredProgram.StatusWord.events)] = 1u;
        }
        """)

    static let invocationIndex = Helper(name: "vy_invocation_index", source: """
        uint vy_invocation_index() {
            uvec3 size = gl_NumWorkGroups * gl_WorkGroupSize;
            return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * size.x + gl_GlobalInvocationID.z * size.x * size.y;
        }
        """)

    /// Float to integer: truncate toward zero, saturate at the target's range, NaN gives 0.
    static func floatToInt(from f: DataType, to t: DataType) -> Helper {
        let s = Conv.scalar(t)
        let fs = Conv.scalar(f)
        let suffix = f == .f64 ? "lf" : ""
        let name = "vy_\(f.rawValue)_to_\(t.rawValue)"
        let lines: [String]
        switch t {
        case .i32:
            lines = ["if (isnan(x)) return 0;",
                     "if (x <= -2147483648.0\(suffix)) return int(0x80000000u);",
                     "if (x >= 2147483648.0\(suffix)) return 2147483647;",
                     "return int(x);"]
        case .u32:
            // Negative values and NaN give 0; (-1, 1) truncates to 0 without relying on uint(-0.5).
            lines = ["if (isnan(x) || x < 1.0\(suffix)) return 0u;",
                     "if (x >= 4294967296.0\(suffix)) return 4294967295u;",
                     "return uint(x);"]
        // 64-bit targets: some drivers (NVIDIA 580) saturate the direct conversion at 2^32 - 1, so
        // the truncated magnitude is split into two exact 32-bit halves (floats at or above 2^32
        // are whole numbers, and dividing by 2^32 is exact).
        case .i64:
            lines = ["if (isnan(x)) return 0l;",
                     "if (x <= -9223372036854775808.0\(suffix)) return int64_t(0x8000000000000000ul);",
                     "if (x >= 9223372036854775808.0\(suffix)) return 9223372036854775807l;",
                     "\(fs) m = trunc(abs(x));",
                     "\(fs) high = floor(m / 4294967296.0\(suffix));",
                     "uint64_t u = (uint64_t(uint(high)) << 32u) | uint64_t(uint(m - high * 4294967296.0\(suffix)));",
                     "return x < 0.0\(suffix) ? -int64_t(u) : int64_t(u);"]
        default:
            lines = ["if (isnan(x) || x < 1.0\(suffix)) return 0ul;",
                     "if (x >= 18446744073709551616.0\(suffix)) return 18446744073709551615ul;",
                     "\(fs) m = trunc(x);",
                     "\(fs) high = floor(m / 4294967296.0\(suffix));",
                     "return (uint64_t(uint(high)) << 32u) | uint64_t(uint(m - high * 4294967296.0\(suffix)));"]
        }
        let body = lines.joined(separator: "\n    ")
        return Helper(name: name, source: "\(s) \(name)(\(fs) x) {\n    \(body)\n}")
    }
}
