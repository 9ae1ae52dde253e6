import Foundation

/// The statistics of one synchronization (`SyncRecord`), from per-worker partial sums.
///
/// Every sum is taken in Double over a buffer's elements in index order (four interleaved
/// accumulators, added in a fixed order at the end), then over the workers in worker order, so
/// the numbers do not depend on threads or on how the workers are spread over processes.
///
/// For one synchronization over groups of G of K workers, with x_k worker k's vector before it
/// (weights, or gradients), x̄_g its group's mean after it and a_g the group's anchor (the
/// weights right after the group's previous average; zero for gradients):
///
///     consensus distance  sqrt((1/K) Σ_k ‖x_k − x̄_g(k)‖²)         (Kong et al. 2021, §3, within groups)
///     anchor distance     sqrt((G/K) Σ_g ‖a_g − x̄_g‖²)            (the pseudo-gradient's norm, RMS over groups)
///     update cosine       mean over groups of (‖Σ u_k‖² − Σ‖u_k‖²) / ((Σ‖u_k‖)² − Σ‖u_k‖²),
///                         u_k = x_k − a_g, ‖Σ u_k‖² taken as G²·‖x̄_g − a_g‖²
///
/// The update cosine is Σ_{j≠k} u_j·u_k / Σ_{j≠k} ‖u_j‖‖u_k‖: the mean of the pairwise cosines
/// weighted by the product of the two norms, equal to their plain mean when the workers' updates
/// are equally long, and the cosine itself for G = 2. It is nil when fewer than two workers of
/// every group moved.
public enum SyncStatistics {
    /// One worker's partial sums: ‖x_k − x̄‖², ‖x_k − a‖² and its group's ‖x̄ − a‖².
    public struct Partial: Equatable, Sendable {
        public var distanceToMean: Double
        public var update: Double
        public var groupMeanUpdate: Double
        public init(distanceToMean: Double, update: Double, groupMeanUpdate: Double) {
            self.distanceToMean = distanceToMean
            self.update = update
            self.groupMeanUpdate = groupMeanUpdate
        }
    }

    /// Σ_i (scale·a[i] − b[i])² in Double over `count` elements; `b` nil stands for zeros.
    /// `scale` is a power of two (exact).
    public static func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?, count: Int,
                                       scale: Double = 1) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var i = 0
        if let b {
            while i + 4 <= count {
                let d0 = scale * Double(a[i]) - Double(b[i]), d1 = scale * Double(a[i + 1]) - Double(b[i + 1])
                let d2 = scale * Double(a[i + 2]) - Double(b[i + 2]), d3 = scale * Double(a[i + 3]) - Double(b[i + 3])
                s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3
                i += 4
            }
            while i < count { let d = scale * Double(a[i]) - Double(b[i]); s0 += d * d; i += 1 }
        } else {
            while i + 4 <= count {
                let d0 = scale * Double(a[i]), d1 = scale * Double(a[i + 1])
                let d2 = scale * Double(a[i + 2]), d3 = scale * Double(a[i + 3])
                s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3
                i += 4
            }
            while i < count { let d = scale * Double(a[i]); s0 += d * d; i += 1 }
        }
        return (s0 + s1) + (s2 + s3)
    }

    /// Σ over `ranges` of `flat` against `packed`, which holds the ranges' values one after the
    /// other (a Streaming DiLoCo fragment): one `squaredDistance` per range, added in range order.
    /// With one range it is `squaredDistance` itself, bit for bit.
    public static func squaredDistance(_ flat: UnsafePointer<Float>, ranges: [Range<Int>], packed: UnsafePointer<Float>) -> Double {
        var sum = 0.0, at = 0
        for r in ranges {
            sum += squaredDistance(flat + r.lowerBound, packed + at, count: r.count)
            at += r.count
        }
        return sum
    }

    /// Σ_i (a[i] − b[i]/divisor)² in Double: the distance of `a` to a sum `b` of `divisor` vectors'
    /// mean (a gradient all-reduce that travelled as a sum).
    public static func squaredDistance(_ a: UnsafePointer<Float>, toSum b: UnsafePointer<Float>, divisor: Double,
                                       count: Int) -> Double {
        var s0 = 0.0, s1 = 0.0
        var i = 0
        while i + 2 <= count {
            let d0 = Double(a[i]) - Double(b[i]) / divisor, d1 = Double(a[i + 1]) - Double(b[i + 1]) / divisor
            s0 += d0 * d0; s1 += d1 * d1
            i += 2
        }
        if i < count { let d = Double(a[i]) - Double(b[i]) / divisor; s0 += d * d }
        return s0 + s1
    }

    /// The three statistics of one synchronization from every worker's partial sums in worker
    /// order (K = `partials.count`), in groups of `groupSize`. `anchored` false: the anchors were
    /// unknown (a resumed run from before the record), so only the consensus distance is given.
    public static func combine(_ partials: [Partial], groupSize: Int, anchored: Bool = true)
        -> (consensusDistance: Double, anchorDistance: Double?, updateCosine: Double?) {
        let k = partials.count
        precondition(k > 0 && groupSize > 0 && k % groupSize == 0, "SyncStatistics.combine: \(groupSize) does not divide \(k)")
        var distance = 0.0
        for p in partials { distance += p.distanceToMean }
        let consensus = (distance / Double(k)).squareRoot()
        guard anchored else { return (consensus, nil, nil) }
        var meanUpdate = 0.0, cosines = 0.0, cosineGroups = 0
        let g = Double(groupSize)
        for start in stride(from: 0, to: k, by: groupSize) {
            let group = partials[start..<(start + groupSize)]
            meanUpdate += group.first!.groupMeanUpdate
            var squares = 0.0, norms = 0.0
            for p in group {
                squares += p.update
                norms += p.update.squareRoot()
            }
            let pairs = norms * norms - squares
            guard pairs > 0 else { continue }
            cosines += (g * g * group.first!.groupMeanUpdate - squares) / pairs
            cosineGroups += 1
        }
        let anchorDistance = (meanUpdate / Double(k / groupSize)).squareRoot()
        return (consensus, anchorDistance, cosineGroups == 0 ? nil : cosines / Double(cosineGroups))
    }
}
