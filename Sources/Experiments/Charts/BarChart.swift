import Foundation

/// One named set of bars, one value per category (nil: no bar).
public struct BarSeries: Equatable, Sendable {
    public var name: String
    public var values: [Double?]
    /// Optional min–max range per bar (grouped charts only).
    public var ranges: [(low: Double, high: Double)?]

    public init(_ name: String, _ values: [Double?], ranges: [(low: Double, high: Double)?] = []) {
        self.name = name
        self.values = values
        self.ranges = ranges
    }

    public static func == (a: BarSeries, b: BarSeries) -> Bool {
        a.name == b.name && a.values == b.values && a.ranges.count == b.ranges.count
            && zip(a.ranges, b.ranges).allSatisfy { $0?.low == $1?.low && $0?.high == $1?.high }
    }
}

/// A bar chart as SVG text: categories along x, the series either stacked (parts of a whole,
/// like the time breakdown of Fig. 1) or side by side (like with/without SlowMo, Fig. 10).
public struct BarChart: Sendable {
    public enum Mode: Sendable { case stacked, grouped }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var categories: [String]
    public var series: [BarSeries]
    public var mode: Mode
    /// Whether the y axis starts at zero; grouped bars of close values (accuracies) read better
    /// without it, starting from the axis' lower end.
    public var zeroBased = true
    public var frame = ChartFrame()

    public init(title: String, xLabel: String, yLabel: String, categories: [String], series: [BarSeries], mode: Mode) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.categories = categories
        self.series = series
        self.mode = mode
    }

    public var yAxis: Axis {
        var values: [Double] = []
        for c in categories.indices {
            let column = series.compactMap { c < $0.values.count ? $0.values[c] : nil }
            switch mode {
            case .stacked: values.append(column.reduce(0, +))
            case .grouped:
                values += column
                values += series.flatMap { c < $0.ranges.count ? [$0.ranges[c]?.low, $0.ranges[c]?.high].compactMap { $0 } : [] }
            }
        }
        if zeroBased || mode == .stacked { return Axis(covering: values, include: [0]) }
        // Room below the lowest bar so that it still shows.
        let finite = values.filter(\.isFinite)
        let pad = ((finite.max() ?? 1) - (finite.min() ?? 0)) * 0.25
        return Axis(covering: values, include: finite.min().map { [$0 - max(pad, 1e-9)] } ?? [])
    }

    public func render() -> String {
        let f = frame, yAxis = self.yAxis
        func py(_ y: Double) -> Double { yAxis.pixel(y, from: f.plotBottom, to: f.plotTop) }
        let slot = f.plotWidth / Double(max(1, categories.count))
        let rotate: Double? = categories.count > 12 ? -60 : (categories.count > 6 || categories.contains { $0.count > 10 } ? -30 : nil)
        var s = f.open(title: title, xLabel: xLabel, yLabel: yLabel)
        s += f.axes(xTicks: categories.indices.map { (f.plotLeft + slot * (Double($0) + 0.5), categories[$0]) },
                    yTicks: yAxis.ticks.map { (py($0), yAxis.tickLabel($0)) }, rotateX: rotate)
        let barWidth = mode == .stacked ? slot * 0.6 : slot * 0.8 / Double(max(1, series.count))
        for c in categories.indices {
            var stackTop = 0.0
            for (i, serie) in series.enumerated() {
                guard c < serie.values.count, let value = serie.values[c], value.isFinite else { continue }
                let x: Double, y0: Double, y1: Double
                switch mode {
                case .stacked:
                    x = f.plotLeft + slot * Double(c) + slot * 0.2
                    y0 = stackTop
                    y1 = stackTop + value
                    stackTop = y1
                case .grouped:
                    x = f.plotLeft + slot * Double(c) + slot * 0.1 + barWidth * Double(i)
                    y0 = zeroBased ? 0 : yAxis.lower
                    y1 = value
                }
                let top = py(max(y0, y1)), height = abs(py(y0) - py(y1))
                s += "<rect x=\"\(SVG.coordinate(x))\" y=\"\(SVG.coordinate(top))\" width=\"\(SVG.coordinate(barWidth))\" height=\"\(SVG.coordinate(height))\" fill=\"\(SVG.color(i))\">"
                s += "<title>\(SVG.escape(categories[c])) — \(SVG.escape(serie.name)): \(SVG.label(value))</title></rect>\n"
                if mode == .grouped, c < serie.ranges.count, let r = serie.ranges[c], r.high > r.low {
                    let mid = x + barWidth / 2
                    s += SVG.line(mid, py(r.low), mid, py(r.high), stroke: "#222222", width: 1.2) + "\n"
                }
            }
        }
        s += f.legend(series.enumerated().map { ($1.name, SVG.color($0), .bar) })
        return s + "</svg>\n"
    }
}
