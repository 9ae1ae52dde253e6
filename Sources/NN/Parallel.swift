import Tensor

extension Workspace {
    /// Calls `body` on ranges covering 0..<count, at most one per lane, each at least `minimum`
    /// long and (but the last) a multiple of `alignment`, in parallel. For work whose result does
    /// not depend on the split: element-wise kernels, GEMMs split over output rows.
    func forEachRange(_ count: Int, minimum: Int = 16 * 1024, alignment: Int = 64, _ body: (Range<Int>) -> Void) {
        let parts = max(1, min(pool.lanes, count / max(1, minimum)))
        if parts == 1 { body(0..<count); return }
        let size = ((count + parts - 1) / parts + alignment - 1) / alignment * alignment
        pool.run(parts) { part, _ in
            let range = min(count, part * size)..<min(count, (part + 1) * size)
            if !range.isEmpty { body(range) }
        }
    }
}

extension Optional where Wrapped == Workspace {
    /// A layer without a network's workspace runs on the calling thread.
    var pool: ThreadPool { self?.pool ?? ThreadPool(threads: 1) }

    func forEachRange(_ count: Int, minimum: Int = 16 * 1024, alignment: Int = 64, _ body: (Range<Int>) -> Void) {
        if let self { self.forEachRange(count, minimum: minimum, alignment: alignment, body) } else { body(0..<count) }
    }
}
