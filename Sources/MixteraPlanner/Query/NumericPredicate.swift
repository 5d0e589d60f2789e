import MixteraSpec

/// A predicate over numeric (int, float) properties, compiled to a flat branching program.
///
/// Each instruction tests one property and jumps to the next instruction on true or on false, so
/// `and`/`or`/`not` short-circuit without a stack; evaluation allocates nothing.
public struct NumericPredicate: Sendable, Hashable, CustomStringConvertible {
    struct Instruction: Sendable, Hashable {
        enum Opcode: UInt8, Sendable, Hashable {
            case isNull, isNotNull, compareInt, compareFloat, isIn, isNotIn
        }

        var property: Int
        var opcode: Opcode
        var op: CompareOp
        var intValue: Int64
        var floatValue: Double
        /// Index into `sets` for `isIn` and `isNotIn`.
        var setIndex: Int
        /// Next instruction, or ``NumericPredicate/trueTarget`` / ``NumericPredicate/falseTarget``.
        var ifTrue: Int
        var ifFalse: Int
    }

    static let trueTarget = -1
    static let falseTarget = -2

    let program: [Instruction]
    let sets: [NumberSet]
    let entry: Int
    let node: QueryNode
    let names: [String]

    init(_ node: QueryNode, names: [String]) {
        var builder = Builder()
        entry = builder.emit(node, onTrue: Self.trueTarget, onFalse: Self.falseTarget)
        program = builder.program
        sets = builder.sets
        self.node = node
        self.names = names
    }

    /// Indices of the numeric properties the predicate tests, sorted ascending.
    public var referencedProperties: [Int] {
        Set(program.map(\.property)).sorted()
    }

    /// The predicate as normalized expression text.
    public var description: String { QueryRendering.render(node, names: names) }

    public static func == (a: NumericPredicate, b: NumericPredicate) -> Bool {
        a.entry == b.entry && a.program == b.program && a.sets == b.sets
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(entry)
        hasher.combine(program)
    }

    /// Evaluates the predicate for one sample. `numeric` is called only with indices of numeric
    /// properties in ``referencedProperties`` and must return `.null`, `.int` or `.float` (either
    /// number case is accepted for both int and float properties).
    public func evaluate(_ numeric: (Int) -> PropertyValue) -> Bool {
        var pc = entry
        while pc >= 0 {
            let ins = program[pc]
            let result = Self.test(ins, numeric(ins.property), sets)
            pc = result ? ins.ifTrue : ins.ifFalse
        }
        return pc == Self.trueTarget
    }

    @inline(__always)
    static func test(_ ins: Instruction, _ value: PropertyValue, _ sets: [NumberSet]) -> Bool {
        switch ins.opcode {
        case .isNull:
            if case .null = value { return true }
            return false
        case .isNotNull:
            if case .null = value { return false }
            return true
        case .compareInt:
            switch value {
            case .int(let v): return ins.op.holds(NumberOrder.compare(v, ins.intValue))
            case .float(let v): return ins.op.holds(NumberOrder.compare(v, ins.intValue))
            case .null: return false
            default: badValue(value, ins.property)
            }
        case .compareFloat:
            switch value {
            case .int(let v): return ins.op.holds(NumberOrder.compare(v, ins.floatValue))
            case .float(let v): return ins.op.holds(NumberOrder.compare(v, ins.floatValue))
            case .null: return false
            default: badValue(value, ins.property)
            }
        case .isIn, .isNotIn:
            let found: Bool
            switch value {
            case .int(let v): found = sets[ins.setIndex].contains(v)
            case .float(let v): found = !v.isNaN && sets[ins.setIndex].contains(v)
            case .null: return false
            default: badValue(value, ins.property)
            }
            return found == (ins.opcode == .isIn)
        }
    }

    @inline(never)
    static func badValue(_ value: PropertyValue, _ property: Int) -> Never {
        preconditionFailure("query: value \(value) of numeric property \(property) is not a number or null")
    }

    /// Emits instructions backwards from the targets, so each test appears exactly once.
    struct Builder {
        var program: [Instruction] = []
        var sets: [NumberSet] = []

        mutating func emit(_ node: QueryNode, onTrue: Int, onFalse: Int) -> Int {
            switch node {
            case .constant(let b): return b ? onTrue : onFalse
            case .not(let x): return emit(x, onTrue: onFalse, onFalse: onTrue)
            case .and(let xs):
                var next = onTrue
                for x in xs.reversed() { next = emit(x, onTrue: next, onFalse: onFalse) }
                return next
            case .or(let xs):
                var next = onFalse
                for x in xs.reversed() { next = emit(x, onTrue: onTrue, onFalse: next) }
                return next
            case .test(let t):
                var ins = Instruction(
                    property: t.property, opcode: .isNull, op: .equal, intValue: 0, floatValue: 0, setIndex: 0,
                    ifTrue: onTrue, ifFalse: onFalse)
                switch t.kind {
                case .isNull(let negated): ins.opcode = negated ? .isNotNull : .isNull
                case .number(let op, .int(let v)):
                    ins.opcode = .compareInt
                    ins.op = op
                    ins.intValue = v
                case .number(let op, .float(let v)):
                    ins.opcode = .compareFloat
                    ins.op = op
                    ins.floatValue = v
                case .numberIn(let set, let negated):
                    ins.opcode = negated ? .isNotIn : .isIn
                    ins.setIndex = sets.count
                    sets.append(set)
                default:
                    preconditionFailure("query: categorical test left in a numeric predicate")
                }
                program.append(ins)
                return program.count - 1
            }
        }
    }
}
