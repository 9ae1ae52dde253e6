import CDNNL
import Foundation
import Tensor

/// oneDNN (Debian's libdnnl 2.6.3, the library PyTorch runs its CPU convolutions on) as our
/// convolutions call it: one CPU engine for the process, every status checked here, and small
/// owners of its memory objects and primitives. Built on the OpenMP runtime: a call runs on
/// `omp_get_max_threads()` threads of the *calling* thread's setting, so every thread sets 1
/// (`OneDNN.singleThreaded()`) before it creates or runs anything — our lanes are the threads.
enum OneDNN {
    /// A oneDNN call that failed, with what was asked of it.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The process's CPU engine, made on first use, or why there is none.
    static let engine: Result<dnnl_engine_t, Failure> = {
        singleThreaded()
        var engine: dnnl_engine_t?
        let status = dnnl_engine_create(&engine, dnnl_cpu, 0)
        guard status == dnnl_success, let engine else {
            return .failure(Failure(description: "oneDNN could not create its CPU engine (\(text(status)))"))
        }
        return .success(engine)
    }()

    /// The library's version and CPU runtime, e.g. "oneDNN 2.6.3 (OpenMP)".
    static var version: String {
        guard let v = dnnl_version()?.pointee else { return "oneDNN" }
        return "oneDNN \(v.major).\(v.minor).\(v.patch)" + (v.cpu_runtime == DNNL_RUNTIME_OMP ? " (OpenMP)" : "")
    }

    /// The instruction-set family of oneDNN's float32 convolution kernels in this process, in
    /// `DNNL_MAX_CPU_ISA`'s spelling: the effective ISA (`dnnl_get_effective_cpu_isa`) without
    /// the extensions that only int8 and bf16 kernels use (VNNI, BF16, AMX), so that a run names
    /// the value that reproduces its bits elsewhere. (AVX512_CORE, AVX512_CORE_VNNI and
    /// AVX512_CORE_BF16 all run `jit:avx512_core` float32 convolutions.)
    static let instructionSet: String = {
        let isa = dnnl_get_effective_cpu_isa()
        func has(_ family: dnnl_cpu_isa_t) -> Bool { isa.rawValue & family.rawValue == family.rawValue }
        if has(dnnl_cpu_isa_avx512_core) { return "AVX512_CORE" }
        if has(dnnl_cpu_isa_avx512_mic) { return "AVX512_MIC" }
        if has(dnnl_cpu_isa_avx2) { return "AVX2" }
        if has(dnnl_cpu_isa_avx) { return "AVX" }
        if has(dnnl_cpu_isa_sse41) { return "SSE41" }
        return "ALL"
    }()

    /// Whether oneDNN's kernels run on AVX2 or a later family (`instructionSet`): below it
    /// (`DNNL_MAX_CPU_ISA=AVX` or `SSE41`, as on an older CPU), our AVX2 Winograd kernels stay off too.
    static var runsAVX2: Bool { ["AVX2", "AVX512_CORE", "AVX512_MIC"].contains(instructionSet) }

    /// Whether this process's oneDNN has Winograd F(4×4, 3×3) float32 convolutions, which
    /// `OneDNNConvolution` uses where `WinogradKernels.onednn.takes` says (oneDNN 2.6 has them on
    /// AVX512_CORE only): probed once by describing one such training convolution, 16→16 channels
    /// on 8×8 images.
    static let hasWinograd: Bool = {
        guard case .success(let engine) = OneDNN.engine, let attr = try? userScratchpad(),
              var x = try? descriptor([1, 16, 8, 8], dnnl_format_tag_any),
              var w = try? descriptor([16, 16, 3, 3], dnnl_format_tag_any),
              var y = try? descriptor([1, 16, 8, 8], dnnl_format_tag_any) else { return false }
        defer { dnnl_primitive_attr_destroy(attr) }
        var d = dnnl_convolution_desc_t()
        let ones: [Int64] = [1, 1]
        guard dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, dnnl_convolution_winograd, &x, &w, nil, &y,
                                                 ones, ones, ones) == dnnl_success else { return false }
        var pd: dnnl_primitive_desc_t?
        guard dnnl_primitive_desc_create(&pd, &d, attr, engine, nil) == dnnl_success, let pd else { return false }
        dnnl_primitive_desc_destroy(pd)
        return true
    }()

    /// One OpenMP thread for oneDNN calls from this thread (a per-thread setting in libgomp: a
    /// new thread starts from the process default, all cores). Results then depend only on the
    /// shapes, never on the threads, and nothing spins between calls.
    @inline(__always)
    static func singleThreaded() { omp_set_num_threads(1) }

    static func text(_ status: dnnl_status_t) -> String {
        dnnl_status2str(status).map { String(cString: $0) } ?? "status \(status.rawValue)"
    }

    /// Throws unless `status` is success, naming the call.
    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) throws {
        guard status == dnnl_success else { throw Failure(description: "oneDNN: \(what()) failed (\(text(status)))") }
    }

    /// For calls inside a step, on objects that were created and checked at setup: a failure
    /// there is a bug, not a condition to handle.
    @inline(__always)
    static func must(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
        if status != dnnl_success { preconditionFailure("oneDNN: \(what()) failed (\(text(status)))") }
    }

    /// A float32 descriptor of `dims` in format `tag` (`dnnl_format_tag_any`: the primitive picks).
    static func descriptor(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        try check(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims.map(Int64.init), dnnl_f32, tag),
                  "a memory descriptor \(dims)")
        return md
    }

    /// A float32 descriptor of `dims` whose elements lie `strides` apart (a view into our tensors).
    static func descriptor(_ dims: [Int], strides: [Int]) throws -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        try check(dnnl_memory_desc_init_by_strides(&md, Int32(dims.count), dims.map(Int64.init), dnnl_f32,
                                                   strides.map(Int64.init)),
                  "a memory descriptor \(dims) with strides \(strides)")
        return md
    }

    /// Attributes asking for a scratchpad we hand over (`dnnl_scratchpad_mode_user`), so that
    /// primitives can run at once on different threads, each with its own.
    static func userScratchpad() throws -> dnnl_primitive_attr_t {
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "creating primitive attributes")
        guard let attr else { throw Failure(description: "oneDNN: no primitive attributes") }
        try check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "a user scratchpad")
        return attr
    }

    static func equal(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        withUnsafePointer(to: a) { a in withUnsafePointer(to: b) { b in dnnl_memory_desc_equal(a, b) != 0 } }
    }

    static func bytes(_ md: dnnl_memory_desc_t) -> Int {
        withUnsafePointer(to: md) { Int(dnnl_memory_desc_get_size($0)) }
    }
}

/// A oneDNN memory object: a descriptor and the buffer it points at, either its own (allocated
/// by oneDNN at setup) or one of ours, bound before each use (`bind`, which calls oneDNN only
/// when the pointer changes).
final class DNNLMemory {
    let handle: dnnl_memory_t
    let descriptor: dnnl_memory_desc_t
    private var bound: UnsafeMutableRawPointer?

    /// `owned`: oneDNN allocates the buffer (zero-padded where the format pads); else none until `bind`.
    init(_ descriptor: dnnl_memory_desc_t, engine: dnnl_engine_t, owned: Bool) throws {
        var memory: dnnl_memory_t?
        var md = descriptor
        try OneDNN.check(dnnl_memory_create(&memory, &md, engine, owned ? cdnnl_memory_allocate() : cdnnl_memory_none()),
                         "creating a memory object")
        guard let memory else { throw OneDNN.Failure(description: "oneDNN: no memory object") }
        handle = memory
        self.descriptor = descriptor
        if owned {
            var p: UnsafeMutableRawPointer?
            try OneDNN.check(dnnl_memory_get_data_handle(memory, &p), "reading a buffer's address")
            bound = p
        }
    }

    deinit { dnnl_memory_destroy(handle) }

    var bytes: Int { OneDNN.bytes(descriptor) }

    /// The buffer the memory is bound to (`bind`, or its own); only read after a bind.
    var pointer: UnsafeMutableRawPointer { bound! }

    /// Points the memory at `pointer` (which must hold `bytes`; oneDNN writes it only where the
    /// memory is an output).
    @inline(__always)
    func bind(_ pointer: UnsafeRawPointer) {
        let p = UnsafeMutableRawPointer(mutating: pointer)
        guard p != bound else { return }
        OneDNN.must(dnnl_memory_set_data_handle(handle, p), "binding a buffer")
        bound = p
    }
}

/// A primitive made from a descriptor, with the scratchpad it needs and the implementation
/// oneDNN chose (e.g. `jit:avx512_core`).
final class DNNLPrimitive {
    let handle: dnnl_primitive_t
    let scratchpad: dnnl_memory_desc_t
    let implementation: String

    /// A primitive of `pd` (which the caller still owns).
    init(_ pd: dnnl_primitive_desc_t, _ what: String) throws {
        var primitive: dnnl_primitive_t?
        try OneDNN.check(dnnl_primitive_create(&primitive, pd), "creating the \(what) primitive")
        guard let primitive else { throw OneDNN.Failure(description: "oneDNN: no \(what) primitive") }
        handle = primitive
        scratchpad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)?.pointee ?? dnnl_memory_desc_t()
        var info: UnsafePointer<CChar>?
        let status = withUnsafeMutablePointer(to: &info) { dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, $0) }
        implementation = status == dnnl_success ? info.map { String(cString: $0) } ?? "?" : "?"
    }

    deinit { dnnl_primitive_destroy(handle) }

    var scratchpadBytes: Int { OneDNN.bytes(scratchpad) }

    /// A reorder from `from`'s layout to `to`'s (an exact copy: no arithmetic).
    static func reorder(_ from: dnnl_memory_desc_t, _ to: dnnl_memory_desc_t, engine: dnnl_engine_t) throws -> DNNLPrimitive {
        let attr = try OneDNN.userScratchpad()
        defer { dnnl_primitive_attr_destroy(attr) }
        var pd: dnnl_primitive_desc_t?
        var a = from, b = to
        try OneDNN.check(dnnl_reorder_primitive_desc_create(&pd, &a, engine, &b, engine, attr), "describing a reorder")
        guard let pd else { throw OneDNN.Failure(description: "oneDNN: no reorder") }
        defer { dnnl_primitive_desc_destroy(pd) }
        return try DNNLPrimitive(pd, "reorder")
    }
}

/// One execution of a primitive on fixed memory objects: its argument list is built once, so
/// running it passes no Swift arrays. (oneDNN itself still builds a small argument map per
/// execution inside `dnnl_primitive_execute`.)
final class DNNLOp {
    let primitive: DNNLPrimitive
    private let memories: [DNNLMemory]
    private let arguments: UnsafeMutablePointer<dnnl_exec_arg_t>
    private let count: Int32

    /// `scratchpad`: the memory to hand over as DNNL_ARG_SCRATCHPAD when the primitive needs one.
    init(_ primitive: DNNLPrimitive, _ args: [(Int32, DNNLMemory)], scratchpad: DNNLMemory?) {
        let all = args + (primitive.scratchpadBytes > 0 ? scratchpad.map { [(DNNL_ARG_SCRATCHPAD, $0)] } ?? [] : [])
        precondition(primitive.scratchpadBytes == 0 || scratchpad != nil, "a primitive that needs a scratchpad got none")
        self.primitive = primitive
        memories = all.map(\.1)
        count = Int32(all.count)
        arguments = .allocate(capacity: all.count)
        for (i, (arg, memory)) in all.enumerated() { arguments[i] = dnnl_exec_arg_t(arg: arg, memory: memory.handle) }
    }

    deinit { arguments.deallocate() }

    @inline(__always)
    func run(_ stream: dnnl_stream_t) {
        OneDNN.must(dnnl_primitive_execute(primitive.handle, stream, count, arguments), "running \(primitive.implementation)")
    }
}

/// A CPU stream (one per thread that runs primitives at the same time as others).
final class DNNLStream {
    let handle: dnnl_stream_t

    init(engine: dnnl_engine_t) throws {
        var stream: dnnl_stream_t?
        try OneDNN.check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "creating a stream")
        guard let stream else { throw OneDNN.Failure(description: "oneDNN: no stream") }
        handle = stream
    }

    deinit { dnnl_stream_destroy(handle) }

    @inline(__always)
    func wait() { OneDNN.must(dnnl_stream_wait(handle), "waiting for a stream") }
}
