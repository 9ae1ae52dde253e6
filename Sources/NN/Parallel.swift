import Tensor

/// One parallel loop of a layer: `work(call, part, lane)` for the parts of one forward or
/// backward call, on the context's lanes. A layer makes one per loop (`lazy var`, its `work`
/// capturing the layer `unowned`) and gives each call's arguments as a `Call` value, so that
/// no layer keeps per-call state of its own for its threads.
///
/// Why a kept object: lending a fresh closure to other threads allocates on every call, and the
/// training step must not allocate (WorkerPool.run(_:job:)); the job handed to the threads is
/// made once here and reads the call from `call`.
final class Parts<Call> {
    private var call: Call?
    private let work: (_ call: Call, _ part: Int, _ lane: Int) -> Void
    private lazy var job: (Int, Int) -> Void = { [unowned self] part, lane in self.work(self.call!, part, lane) }

    init(_ work: @escaping (_ call: Call, _ part: Int, _ lane: Int) -> Void) { self.work = work }

    /// Runs every part in 0..<parts with `call` and returns when all are done. Results must not
    /// depend on which lane runs a part: split by the sizes (`Split`), never by the lanes.
    func run(_ parts: Int, _ call: Call, _ context: StepContext) {
        self.call = call
        context.run(parts, job: job)
        self.call = nil
    }
}

/// 0..<count in at most `maximumParts` parts, each at least `minimum` long (one part below that)
/// and, but the last, a multiple of `alignment`. The parts depend on the sizes alone, never on
/// the number of threads that run them: OpenBLAS rounds an output element differently when the
/// same product is computed by calls of other shapes, so a GEMM split by the thread count would
/// give other numbers on another thread count.
struct Split {
    /// Parts of the largest work (as Conv2d's image groups): enough for four threads.
    static let maximumParts = 4

    let count: Int, parts: Int, size: Int

    init(_ count: Int, minimum: Int = 16 * 1024, alignment: Int = 64) {
        self.count = count
        parts = max(1, min(Split.maximumParts, count / max(1, minimum)))
        size = ((count + parts - 1) / parts + alignment - 1) / alignment * alignment
    }

    /// How a GEMM's `count` output rows (or columns) split over lanes: into parts worth at least
    /// ~0.5 MFLOP (`other` the output's other extent, `k` the inner dimension), 16-aligned. Each
    /// part packs the whole of the operand it shares, so callers split the larger output extent
    /// whose shared operand is the smaller. `Linear` and `TiedHead` split this way.
    static func gemmOutput(_ count: Int, other: Int, k: Int) -> Split {
        Split(count, minimum: max(16, 256 * 1024 / max(1, other * k)), alignment: 16)
    }

    func range(_ part: Int) -> Range<Int> { min(count, part * size)..<min(count, (part + 1) * size) }
}

/// An element-wise kernel over a tensor, split over the context's lanes; one per layer.
final class Elementwise {
    enum Kernel { case relu, reluBackward, add, addReLU, addReLUGradient }
    private struct Call {
        let kernel: Kernel, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafePointer<Float>
        let out: UnsafeMutablePointer<Float>
        let split: Split
    }
    private let parts = Parts<Call> { call, part, _ in Elementwise.apply(call, call.split.range(part)) }

    /// relu: out = max(a, 0); reluBackward: out = a where b > 0; add: out = a + b; addReLU:
    /// out = max(a + b, 0); addReLUGradient: out = a + (b where c > 0). `b` is ignored by relu,
    /// `c` by all but addReLUGradient.
    func run(_ kernel: Kernel, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>? = nil,
             _ c: UnsafePointer<Float>? = nil, into out: UnsafeMutablePointer<Float>, count: Int,
             _ context: StepContext) {
        let split = Split(count)
        parts.run(split.parts, Call(kernel: kernel, a: a, b: b ?? a, c: c ?? a, out: out, split: split), context)
    }

    private static func apply(_ call: Call, _ r: Range<Int>) {
        let a = call.a, b = call.b, c = call.c, out = call.out, i = r.lowerBound, n = r.count
        switch call.kernel {
        case .relu: Vector.relu(a + i, into: out + i, count: n)
        case .reluBackward: Vector.reluBackward(a + i, output: b + i, into: out + i, count: n)
        case .add: Vector.add(a + i, b + i, into: out + i, count: n)
        case .addReLU: Vector.addReLU(a + i, b + i, into: out + i, count: n)
        case .addReLUGradient: Vector.addReLUGradient(a + i, b + i, output: c + i, into: out + i, count: n)
        }
    }
}
