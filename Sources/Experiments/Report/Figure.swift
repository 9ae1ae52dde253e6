import Foundation

/// A chart of a report figure.
public enum Chart: Sendable {
    case line(LineChart)
    case bar(BarChart)

    public func render() -> String {
        switch self {
        case .line(let c): return c.render()
        case .bar(let c): return c.render()
        }
    }

    public var title: String {
        switch self {
        case .line(let c): return c.title
        case .bar(let c): return c.title
        }
    }

    /// The plotted numbers, one row per point or bar.
    var csvRows: [[String]] {
        switch self {
        case .line(let c):
            var rows = c.series.flatMap { s in
                s.points.map { [c.title, s.name, c.xLabel, CSV.number($0.x), c.yLabel, CSV.number($0.y), CSV.number($0.low), CSV.number($0.high)] }
            }
            rows += c.references.map { [c.title, $0.name, c.xLabel, "", c.yLabel, CSV.number($0.y), "", ""] }
            return rows
        case .bar(let c):
            return c.series.flatMap { s in
                c.categories.indices.compactMap { i -> [String]? in
                    guard i < s.values.count, let v = s.values[i] else { return nil }
                    let r = i < s.ranges.count ? s.ranges[i] : nil
                    return [c.title, s.name, c.xLabel, c.categories[i], c.yLabel, CSV.number(v), CSV.number(r?.low), CSV.number(r?.high)]
                }
            }
        }
    }
}

/// One figure of the report: a numbered title after the study's figure, what it shows, its charts.
public struct Figure: Sendable {
    /// Short id for file names, e.g. `fig05`.
    public var id: String
    public var title: String
    public var caption: String
    public var charts: [Chart]

    public static let csvHeader = ["chart", "series", "x_label", "x", "y_label", "y_median", "y_min", "y_max"]

    public var csv: String { CSV.table(header: Figure.csvHeader, rows: charts.flatMap(\.csvRows)) }
}

/// A figure the report could not draw from the runs it has, and why.
public struct SkippedFigure: Sendable {
    public var title: String
    public var reason: String
}

/// A figure builder's answer.
enum FigureResult {
    case drawn(Figure)
    case skipped(String)
}
