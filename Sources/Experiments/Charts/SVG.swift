import Foundation

/// Small helpers for writing SVG text by hand: escaping, short numbers, a colour-blind-safe
/// palette and the frame every chart shares (size, margins, title, legend).
public enum SVG {
    /// Okabe–Ito colours, distinguishable with the common colour-vision deficiencies.
    public static let palette = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

    public static func color(_ index: Int) -> String { palette[index % palette.count] }

    /// Text safe inside an element or an attribute value.
    public static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A coordinate with two decimals and no trailing zeros.
    public static func coordinate(_ x: Double) -> String {
        let r = (x * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(format: "%.2f", r).replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
    }

    /// A value for a tick label or tooltip: at most 4 significant digits, no exponent for usual sizes.
    public static func label(_ x: Double) -> String {
        if x == 0 { return "0" }
        let magnitude = abs(x)
        if magnitude >= 1e6 || magnitude < 1e-3 { return String(format: "%.3g", x) }
        var text = String(format: "%.4g", x)
        if text.contains("e") { text = String(format: "%.4f", x) }
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    static func text(_ s: String, x: Double, y: Double, anchor: String = "middle", size: Int = 12,
                     weight: String? = nil, rotate: Double? = nil) -> String {
        var attributes = "x=\"\(coordinate(x))\" y=\"\(coordinate(y))\" text-anchor=\"\(anchor)\" font-size=\"\(size)\""
        if let weight { attributes += " font-weight=\"\(weight)\"" }
        if let rotate { attributes += " transform=\"rotate(\(coordinate(rotate)) \(coordinate(x)) \(coordinate(y)))\"" }
        return "<text \(attributes)>\(escape(s))</text>"
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1,
                     dash: String? = nil) -> String {
        let dashAttribute = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
        return "<line x1=\"\(coordinate(x1))\" y1=\"\(coordinate(y1))\" x2=\"\(coordinate(x2))\" y2=\"\(coordinate(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(coordinate(width))\"\(dashAttribute)/>"
    }

    /// Several charts one under the other in one SVG document.
    public static func stack(_ charts: [String], width: Int = ChartFrame.defaultWidth) -> String {
        var y = 0
        var body = ""
        for chart in charts {
            let height = Int(chart.firstMatch(of: #/height="(\d+)"/#)?.1 ?? "0") ?? 0
            body += chart.replacingOccurrences(of: "<svg ", with: "<svg y=\"\(y)\" ", options: .anchored) + "\n"
            y += height
        }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(y)\" viewBox=\"0 0 \(width) \(y)\">\n\(body)</svg>\n"
    }
}

/// The layout every chart shares: a plot area inside margins, the title above, axis labels
/// outside, and the legend to the right of the plot.
public struct ChartFrame: Equatable, Sendable {
    public static let defaultWidth = 680
    public var width: Double = Double(defaultWidth)
    public var height: Double = 360
    public var left: Double = 70
    public var right: Double = 170
    public var top: Double = 40
    public var bottom: Double = 56

    public init() {}

    public var plotLeft: Double { left }
    public var plotRight: Double { width - right }
    public var plotTop: Double { top }
    public var plotBottom: Double { height - bottom }
    public var plotWidth: Double { plotRight - plotLeft }
    public var plotHeight: Double { plotBottom - plotTop }

    /// The opening tag, background, title and axis labels.
    func open(title: String, xLabel: String, yLabel: String) -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"white\"/>\n"
        s += SVG.text(title, x: (plotLeft + plotRight) / 2, y: 22, size: 14, weight: "bold") + "\n"
        s += SVG.text(xLabel, x: (plotLeft + plotRight) / 2, y: height - 12, size: 12) + "\n"
        s += SVG.text(yLabel, x: 16, y: (plotTop + plotBottom) / 2, size: 12, rotate: -90) + "\n"
        return s
    }

    /// Legend entries (name, colour, how each is drawn) in a column right of the plot.
    func legend(_ entries: [(name: String, color: String, mark: LegendMark)]) -> String {
        var s = ""
        for (i, e) in entries.enumerated() {
            let y = plotTop + 8 + Double(i) * 18
            let x = plotRight + 14
            switch e.mark {
            case .bar:
                s += "<rect x=\"\(SVG.coordinate(x))\" y=\"\(SVG.coordinate(y - 6))\" width=\"18\" height=\"10\" fill=\"\(e.color)\"/>"
            case .reference:
                s += SVG.line(x, y, x + 18, y, stroke: e.color, width: 1.5, dash: "2,3")
            case .line(let dashed):
                s += SVG.line(x, y, x + 18, y, stroke: e.color, width: 2, dash: dashed ? "5,3" : nil)
                s += "<circle cx=\"\(SVG.coordinate(x + 9))\" cy=\"\(SVG.coordinate(y))\" r=\"3\" fill=\"\(e.color)\"/>"
            }
            s += SVG.text(e.name, x: x + 24, y: y + 4, anchor: "start", size: 11) + "\n"
        }
        return s
    }
}

/// How a legend entry is drawn: a series' line with its marker, a reference line (dotted, no
/// marker, as the chart draws it) or a bar's swatch.
enum LegendMark {
    case line(dashed: Bool)
    case reference
    case bar
}
