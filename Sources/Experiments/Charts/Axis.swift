import Foundation

/// One axis of a chart: a data interval mapped onto a pixel interval, linearly or on a log₂
/// scale (for K and H, which the study doubles), with tick positions and labels.
public struct Axis: Equatable, Sendable {
    public enum Scale: Equatable, Sendable { case linear, log2 }

    public var scale: Scale
    /// Data interval shown (after rounding out to nice ticks).
    public var lower: Double
    public var upper: Double
    public var ticks: [Double]

    /// An axis covering `values` (and `include`, e.g. 0 for bar charts).
    public init(covering values: [Double], scale: Scale = .linear, include: [Double] = [], tickTarget: Int = 6) {
        self.scale = scale
        var data = (values + include).filter { $0.isFinite && (scale == .linear || $0 > 0) }
        if data.isEmpty { data = scale == .linear ? [0, 1] : [1, 2] }
        var lo = data.min()!, hi = data.max()!
        switch scale {
        case .log2:
            let a = Foundation.log2(lo).rounded(.down), b = Foundation.log2(hi).rounded(.up)
            lo = pow(2, a)
            hi = pow(2, max(b, a + 1))
            let exponents = Array(stride(from: a, through: Foundation.log2(hi), by: 1))
            let step = max(1, Int((Double(exponents.count) / Double(tickTarget + 2)).rounded(.up)))
            ticks = exponents.enumerated().filter { $0.offset % step == 0 }.map { pow(2, $0.element) }
        case .linear:
            if lo == hi {
                let pad = lo == 0 ? 1 : abs(lo) * 0.1
                lo -= pad
                hi += pad
            }
            var step = Axis.niceStep((hi - lo) / Double(tickTarget))
            if step < 1 && data.allSatisfy({ $0 == $0.rounded() }) && hi - lo >= 1 { step = 1 }  // epochs, counts
            lo = (lo / step).rounded(.down) * step
            hi = (hi / step).rounded(.up) * step
            let count = Int(((hi - lo) / step).rounded())
            ticks = (0...count).map { lo + Double($0) * step }
        }
        lower = lo
        upper = hi
    }

    /// 1, 2 or 5 times a power of ten, at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let power = pow(10, floor(log10(raw)))
        for m in [1.0, 2, 5, 10] where m * power >= raw * (1 - 1e-9) { return m * power }
        return 10 * power
    }

    /// Position of `value` between 0 (lower) and 1 (upper).
    public func fraction(_ value: Double) -> Double {
        switch scale {
        case .linear: return (value - lower) / (upper - lower)
        case .log2: return (Foundation.log2(value) - Foundation.log2(lower)) / (Foundation.log2(upper) - Foundation.log2(lower))
        }
    }

    /// Pixel coordinate of `value` on a horizontal axis from `start` to `end`.
    public func pixel(_ value: Double, from start: Double, to end: Double) -> Double {
        start + fraction(value) * (end - start)
    }

    public func tickLabel(_ value: Double) -> String { SVG.label(value) }
}
