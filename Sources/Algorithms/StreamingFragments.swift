/// Streaming DiLoCo's fragments and their timetable (Douillard et al. 2025, *Streaming DiLoCo
/// with overlapping communication*, §2.2): the model's layers, in depth order, are dealt out to
/// P fragments in the paper's strided pattern, layer l to fragment l mod P, so every fragment
/// spans the depth; fragment p is synchronized every H iterations, shifted by t_p = ⌊p·H/P⌋, so
/// the fragments take turns and a synchronization moves about 1/P of the weights.
///
/// With the paper's t the 1-based iteration (`step + 1`), fragment p synchronizes after every t
/// with t ≥ t_p and (t − t_p) mod H = 0: fragment 0 at H, 2H, … as plain DiLoCo, fragment p > 0
/// first at t_p (its first period is t_p iterations long), then every H.
///
/// Fragments are laid out `packed` one after the other (fragment 0's values, then fragment 1's,
/// …, each in layout order): the strategy keeps its outer state in that order, so a fragment's
/// outer step is one contiguous slice of it.
public struct StreamingFragments: Equatable, Sendable {
    /// P.
    public let count: Int
    /// H, iterations between two synchronizations of one fragment.
    public let period: Int
    /// Each fragment's ranges of the flat parameter buffer, in layout order, adjacent ranges joined.
    public let ranges: [[Range<Int>]]
    /// Floats in each fragment.
    public let sizes: [Int]
    /// Where each fragment starts in the packed order.
    public let packedOffsets: [Int]
    /// t_p = ⌊p·H/P⌋ for each fragment.
    public let offsets: [Int]

    /// `layers` are the model's layers as ranges of the flat buffer, in depth order
    /// (`ParameterLayout.layerRanges`); 1 ≤ `fragments` ≤ `layers.count`, `period` ≥ 1.
    public init(layers: [Range<Int>], fragments: Int, period: Int) {
        precondition(fragments >= 1 && fragments <= layers.count,
                     "StreamingFragments: \(fragments) fragments of \(layers.count) layers")
        precondition(period >= 1, "StreamingFragments: period \(period)")
        count = fragments
        self.period = period
        var ranges = [[Range<Int>]](repeating: [], count: fragments)
        for (l, layer) in layers.enumerated() where !layer.isEmpty {
            let p = l % fragments
            if let last = ranges[p].last, last.upperBound == layer.lowerBound {
                ranges[p][ranges[p].count - 1] = last.lowerBound..<layer.upperBound
            } else {
                ranges[p].append(layer)
            }
        }
        self.ranges = ranges
        sizes = ranges.map { $0.reduce(0) { $0 + $1.count } }
        var offset = 0
        packedOffsets = sizes.map { size in
            defer { offset += size }
            return offset
        }
        offsets = (0..<fragments).map { $0 * period / fragments }
    }

    /// Floats in all fragments together.
    public var totalSize: Int { sizes.reduce(0, +) }

    /// Whether fragment `p` synchronizes after 0-based iteration `step`.
    public func synchronizes(_ p: Int, afterStep step: Int) -> Bool {
        let t = step + 1
        return t >= offsets[p] && (t - offsets[p]) % period == 0
    }

    /// The most fragment synchronizations in `iterations` consecutive iterations: each fragment
    /// synchronizes at most once in every H.
    public func mostSynchronizations(inIterations iterations: Int) -> Int {
        count * ((iterations + period - 1) / period)
    }

    /// At a synchronization of fragment `p` after iteration `step`: the iterations since its
    /// previous one, or since the start for its first (t_p, or H for t_p = 0).
    public func iterationsSinceSynchronization(_ p: Int, afterStep step: Int) -> Int {
        min(step + 1, period)
    }

    /// Copies fragment `p` of the flat buffer `flat` into `packed` (its `sizes[p]` floats).
    public func gather(_ p: Int, from flat: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>) {
        var at = 0
        for r in ranges[p] {
            (packed + at).update(from: flat + r.lowerBound, count: r.count)
            at += r.count
        }
    }

    /// Writes `packed` (fragment `p`'s `sizes[p]` floats) back into its ranges of `flat`.
    public func scatter(_ p: Int, from packed: UnsafePointer<Float>, into flat: UnsafeMutablePointer<Float>) {
        var at = 0
        for r in ranges[p] {
            (flat + r.lowerBound).update(from: packed + at, count: r.count)
            at += r.count
        }
    }

    /// Fragment `p` of `flat` becomes α·flat + β·`packed` element by element, β = 1 − α rounded
    /// once (§2.3's merge of the local and the global fragment).
    public func mix(_ p: Int, packed: UnsafePointer<Float>, into flat: UnsafeMutablePointer<Float>, alpha: Float, beta: Float) {
        var at = 0
        for r in ranges[p] {
            let x = flat + r.lowerBound, g = packed + at
            for i in 0..<r.count { x[i] = alpha * x[i] + beta * g[i] }
            at += r.count
        }
    }
}
