import Foundation

/// A point of a line chart; `low`/`high` draw a vertical range (e.g. min and max over seeds).
public struct ChartPoint: Equatable, Sendable {
    public var x: Double
    public var y: Double
    public var low: Double?
    public var high: Double?

    public init(x: Double, y: Double, low: Double? = nil, high: Double? = nil) {
        self.x = x
        self.y = y
        self.low = low
        self.high = high
    }
}

/// One named line of a chart.
public struct ChartSeries: Equatable, Sendable {
    public var name: String
    public var points: [ChartPoint]
    public var dashed: Bool

    public init(_ name: String, _ points: [ChartPoint], dashed: Bool = false) {
        self.name = name
        self.points = points
        self.dashed = dashed
    }
}

/// A line chart as SVG text: axes with ticks, one polyline with dot markers per series, an
/// optional min–max range per point, horizontal reference lines, and a legend.
public struct LineChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [ChartSeries]
    public var xScale: Axis.Scale = .linear
    /// Horizontal lines across the plot (e.g. the minibatch baseline).
    public var references: [(name: String, y: Double)] = []
    /// Values the y axis must include (e.g. 0).
    public var yInclude: [Double] = []
    public var frame = ChartFrame()

    public init(title: String, xLabel: String, yLabel: String, series: [ChartSeries], xScale: Axis.Scale = .linear) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.xScale = xScale
    }

    public var xAxis: Axis { Axis(covering: series.flatMap { $0.points.map(\.x) }, scale: xScale) }

    public var yAxis: Axis {
        let values = series.flatMap { $0.points.flatMap { [$0.y] + [$0.low, $0.high].compactMap { $0 } } }
        return Axis(covering: values + references.map(\.y), include: yInclude)
    }

    /// Pixel position of a data point.
    public func position(x: Double, y: Double) -> (x: Double, y: Double) {
        (xAxis.pixel(x, from: frame.plotLeft, to: frame.plotRight), yAxis.pixel(y, from: frame.plotBottom, to: frame.plotTop))
    }

    public func render() -> String {
        let xAxis = self.xAxis, yAxis = self.yAxis, f = frame
        func px(_ x: Double) -> Double { xAxis.pixel(x, from: f.plotLeft, to: f.plotRight) }
        func py(_ y: Double) -> Double { yAxis.pixel(y, from: f.plotBottom, to: f.plotTop) }
        var s = f.open(title: title, xLabel: xLabel, yLabel: yLabel)
        s += axes(xTicks: xAxis.ticks.map { (px($0), xAxis.tickLabel($0)) }, yTicks: yAxis.ticks.map { (py($0), yAxis.tickLabel($0)) })
        var legend: [(name: String, color: String, mark: LegendMark)] = []
        for (i, r) in references.enumerated() {
            let color = i == 0 ? "#555555" : SVG.color(series.count + i)
            s += SVG.line(f.plotLeft, py(r.y), f.plotRight, py(r.y), stroke: color, width: 1.5, dash: "2,3") + "\n"
            legend.append((r.name, color, .reference))
        }
        for (i, serie) in series.enumerated() {
            let color = SVG.color(i)
            let points = serie.points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x }
            s += "<g class=\"series\" data-name=\"\(SVG.escape(serie.name))\">\n"
            if points.count > 1 {
                let coordinates = points.map { "\(SVG.coordinate(px($0.x))),\(SVG.coordinate(py($0.y)))" }.joined(separator: " ")
                let dash = serie.dashed ? " stroke-dasharray=\"6,4\"" : ""
                s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash) points=\"\(coordinates)\"/>\n"
            }
            for p in points {
                if let low = p.low, let high = p.high, low.isFinite, high.isFinite, high > low {
                    s += SVG.line(px(p.x), py(low), px(p.x), py(high), stroke: color, width: 1) + "\n"
                }
                s += "<circle cx=\"\(SVG.coordinate(px(p.x)))\" cy=\"\(SVG.coordinate(py(p.y)))\" r=\"3.5\" fill=\"\(color)\">"
                s += "<title>\(SVG.escape(serie.name)): (\(SVG.label(p.x)), \(SVG.label(p.y)))</title></circle>\n"
            }
            s += "</g>\n"
            legend.append((serie.name, color, .line(dashed: serie.dashed)))
        }
        s += f.legend(legend)
        return s + "</svg>\n"
    }

    func axes(xTicks: [(Double, String)], yTicks: [(Double, String)]) -> String {
        frame.axes(xTicks: xTicks, yTicks: yTicks, rotateX: nil)
    }
}

extension ChartFrame {
    /// Grid lines, the axis box, ticks and their labels.
    /// `rotateX`: degrees to turn the x labels by (long or many category names), nil for none.
    func axes(xTicks: [(Double, String)], yTicks: [(Double, String)], rotateX: Double?) -> String {
        var s = ""
        for (y, label) in yTicks {
            s += SVG.line(plotLeft, y, plotRight, y, stroke: "#e4e4e4") + "\n"
            s += SVG.text(label, x: plotLeft - 6, y: y + 4, anchor: "end", size: 11) + "\n"
        }
        for (x, label) in xTicks {
            if let angle = rotateX {
                s += SVG.text(label, x: x, y: plotBottom + 14, anchor: "end", size: 11, rotate: angle) + "\n"
            } else {
                s += SVG.line(x, plotTop, x, plotBottom, stroke: "#f0f0f0") + "\n"
                s += SVG.text(label, x: x, y: plotBottom + 16, size: 11) + "\n"
            }
        }
        s += "<rect x=\"\(SVG.coordinate(plotLeft))\" y=\"\(SVG.coordinate(plotTop))\" width=\"\(SVG.coordinate(plotWidth))\" height=\"\(SVG.coordinate(plotHeight))\" fill=\"none\" stroke=\"#333333\"/>\n"
        return s
    }
}
