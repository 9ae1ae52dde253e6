import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Experiments

/// Parses SVG with Foundation's XMLParser and collects the elements' attributes.
final class SVGElements: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var text = ""
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append((name, attributes))
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    static func parse(_ svg: String) throws -> SVGElements {
        let collector = SVGElements()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        guard parser.parse() else {
            throw NSError(domain: "SVG", code: 1, userInfo: [NSLocalizedDescriptionKey: "not well-formed: \(parser.parserError.map { "\($0)" } ?? "?")"])
        }
        return collector
    }

    func all(_ name: String) -> [[String: String]] { elements.filter { $0.name == name }.map(\.attributes) }
}

func assertWellFormed(_ svg: String, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertNoThrow(try SVGElements.parse(svg), file: file, line: line)
}

final class SVGChartTests: XCTestCase {
    func testLineChartIsWellFormedAndScalesPoints() throws {
        var chart = LineChart(title: "Accuracy <&> \"quotes\"", xLabel: "x", yLabel: "y",
                              series: [ChartSeries("a & b", [ChartPoint(x: 0, y: 0), ChartPoint(x: 5, y: 50, low: 40, high: 60),
                                                              ChartPoint(x: 10, y: 100)])])
        chart.references = [("baseline", 20)]
        let svg = chart.render()
        let parsed = try SVGElements.parse(svg)
        XCTAssertTrue(parsed.text.contains("Accuracy <&> \"quotes\""))
        // Nice ticks cover exactly 0…10 and 0…100 here, so positions are plain proportions.
        XCTAssertEqual(chart.xAxis.lower, 0)
        XCTAssertEqual(chart.xAxis.upper, 10)
        XCTAssertEqual(chart.yAxis.lower, 0)
        XCTAssertEqual(chart.yAxis.upper, 100)
        let f = chart.frame
        let circles = parsed.all("circle").filter { $0["r"] == "3.5" }
        XCTAssertEqual(circles.count, 3)
        for (circle, (x, y)) in zip(circles, [(0.0, 0.0), (5, 50), (10, 100)]) {
            XCTAssertEqual(Double(circle["cx"]!)!, f.plotLeft + x / 10 * f.plotWidth, accuracy: 0.01)
            XCTAssertEqual(Double(circle["cy"]!)!, f.plotBottom - y / 100 * f.plotHeight, accuracy: 0.01)
        }
        let polyline = try XCTUnwrap(parsed.all("polyline").first)
        XCTAssertEqual(polyline["points"]!.split(separator: " ").count, 3)
        // The min–max bar of the middle point spans y = 40…60.
        let bar = try XCTUnwrap(parsed.all("line").first { $0["x1"] == circles[1]["cx"] && $0["x2"] == circles[1]["cx"] })
        XCTAssertEqual(Double(bar["y1"]!)!, f.plotBottom - 0.4 * f.plotHeight, accuracy: 0.01)
        XCTAssertEqual(Double(bar["y2"]!)!, f.plotBottom - 0.6 * f.plotHeight, accuracy: 0.01)
        // The legend draws each entry as the chart does: the series with its marker, the
        // reference as a dotted line without one.
        let legendMarkers = parsed.all("circle").filter { $0["r"] == "3" }
        XCTAssertEqual(legendMarkers.count, 1, "one marker, the series'")
        let legendLines = parsed.all("line").filter { Double($0["x1"]!)! == f.plotRight + 14 }
        XCTAssertEqual(legendLines.map { $0["stroke-dasharray"] }, ["2,3", nil])
    }

    func testLog2AxisPlacesDoublingsEvenly() throws {
        let chart = LineChart(title: "t", xLabel: "K", yLabel: "y",
                              series: [ChartSeries("s", [1, 4, 16].map { ChartPoint(x: $0, y: 1) })], xScale: .log2)
        XCTAssertEqual(chart.xAxis.ticks, [1, 2, 4, 8, 16])
        let xs = try SVGElements.parse(chart.render()).all("circle").filter { $0["r"] == "3.5" }.map { Double($0["cx"]!)! }
        let f = chart.frame
        XCTAssertEqual(xs[0], f.plotLeft, accuracy: 0.01)
        XCTAssertEqual(xs[1], f.plotLeft + f.plotWidth / 2, accuracy: 0.01)
        XCTAssertEqual(xs[2], f.plotRight, accuracy: 0.01)
    }

    func testStackedBarsAddUpAndGroupedBarsStartAtZero() throws {
        let stacked = BarChart(title: "t", xLabel: "x", yLabel: "ms", categories: ["a", "b"],
                               series: [BarSeries("compute", [30, 10]), BarSeries("comm", [10, 10])], mode: .stacked)
        XCTAssertEqual(stacked.yAxis.upper, 40)
        let rects = try SVGElements.parse(stacked.render()).all("rect").filter { $0["fill"] != "white" && $0["fill"] != "none" && $0["width"] != "18" }
        XCTAssertEqual(rects.count, 4)
        let f = stacked.frame
        let heights = rects.map { Double($0["height"]!)! }
        XCTAssertEqual(heights[0], 30.0 / 40 * f.plotHeight, accuracy: 0.02)
        XCTAssertEqual(heights[1], 10.0 / 40 * f.plotHeight, accuracy: 0.02)  // "comm" of a, on top of compute
        XCTAssertEqual(Double(rects[1]["y"]!)! + heights[1], Double(rects[0]["y"]!)!, accuracy: 0.02)

        let grouped = BarChart(title: "t", xLabel: "x", yLabel: "%", categories: ["a"],
                               series: [BarSeries("without", [50], ranges: [(45, 55)]), BarSeries("with", [60])], mode: .grouped)
        let bars = try SVGElements.parse(grouped.render()).all("rect").filter { $0["fill"] != "white" && $0["fill"] != "none" && $0["width"] != "18" }
        XCTAssertEqual(bars.count, 2)
        for bar in bars {
            XCTAssertEqual(Double(bar["y"]!)! + Double(bar["height"]!)!, grouped.frame.plotBottom, accuracy: 0.02)
        }
        XCTAssertEqual(grouped.yAxis.lower, 0)
        var close = grouped
        close.zeroBased = false
        let axis = close.yAxis
        XCTAssertTrue(axis.lower > 0 && axis.lower < 45, "the axis hugs the data (and the 45 of a range): \(axis.lower)")
        let lifted = try SVGElements.parse(close.render()).all("rect").filter { $0["fill"] != "white" && $0["fill"] != "none" && $0["width"] != "18" }
        XCTAssertEqual(Double(lifted[0]["height"]!)!, (50 - axis.lower) / (axis.upper - axis.lower) * close.frame.plotHeight, accuracy: 0.02)
    }

    func testNiceTicksAndLabels() {
        XCTAssertEqual(Axis(covering: [1, 2, 3, 4]).ticks, [1, 2, 3, 4], "whole numbers get whole ticks")
        let ticks = Axis(covering: [0.13, 0.87]).ticks
        XCTAssertEqual(ticks.count, 6)
        for (tick, expected) in zip(ticks, [0, 0.2, 0.4, 0.6, 0.8, 1.0]) { XCTAssertEqual(tick, expected, accuracy: 1e-12) }
        let flat = Axis(covering: [3, 3])
        XCTAssertTrue(flat.lower < 3 && flat.upper > 3, "a constant series still gets a range")
        XCTAssertEqual(SVG.label(0.25), "0.25")
        XCTAssertEqual(SVG.label(1200), "1200")
        XCTAssertEqual(SVG.label(64), "64")
    }

    func testStackedDocumentIsWellFormed() throws {
        let a = LineChart(title: "a", xLabel: "x", yLabel: "y", series: [ChartSeries("s", [ChartPoint(x: 1, y: 2)])]).render()
        let svg = SVG.stack([a, a])
        let parsed = try SVGElements.parse(svg)
        XCTAssertEqual(parsed.all("svg").count, 3)
        XCTAssertEqual(parsed.all("svg")[0]["height"], "720")
    }
}
