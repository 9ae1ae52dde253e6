import Foundation

/// The report as one self-contained HTML page: inline SVG, inline CSS, no scripts, no network.
extension Report {
    public func html() -> String {
        var s = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>LocalSGD report</title>
        <style>
        body { font-family: Helvetica, Arial, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }
        h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { font-size: 1.1em; margin-top: 1.6em; }
        table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; } td, th { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
        td:first-child, th:first-child { text-align: left; } figure { margin: 1em 0 2em; } figcaption { font-size: 0.9em; color: #444; max-width: 680px; }
        svg { display: block; margin: 0.5em 0; max-width: 100%; height: auto; } .skipped li, .failed li { margin: 0.3em 0; } code { background: #f4f4f4; padding: 0 3px; }
        </style></head><body>
        <h1>LocalSGD report</h1>
        <p>Runs from \(esc(source.joined(separator: ", "))): \(records.count) found, \(records.count - failed.count) finished, \(failed.count) failed or unfinished; \(groups.count) settings after grouping runs that differ only in their seed. Values are medians over seeds; bars and whiskers span min–max. The numbers are also in <a href="csv/runs.csv">csv/runs.csv</a> (every run) and <a href="csv/groups.csv">csv/groups.csv</a> (every setting), and each figure's in its own CSV file.</p>

        """
        if !failed.isEmpty {
            s += "<h2>Failed or unfinished runs</h2>\n<ul class=\"failed\">\n"
            for r in failed { s += "<li><code>\(esc(r.name))</code>: \(esc(r.error ?? "unfinished"))</li>\n" }
            s += "</ul>\n"
        }
        for (i, family) in families.enumerated() {
            s += "<h2>\(esc(family.title))</h2>\n"
            s += groupTable(family)
            for figure in family.figures {
                s += "<figure id=\"\(families.count == 1 ? figure.id : "family\(i + 1)-\(figure.id)")\">\n<h3>\(esc(figure.title))</h3>\n"
                for chart in figure.charts { s += chart.render() }
                s += "<figcaption>\(esc(figure.caption)) Data: <a href=\"csv/\(csvName(family: i, figure: figure))\">\(csvName(family: i, figure: figure))</a>.</figcaption>\n</figure>\n"
            }
            if !family.skipped.isEmpty {
                s += "<h3>Figures not drawn for these runs</h3>\n<ul class=\"skipped\">\n"
                for k in family.skipped { s += "<li><b>\(esc(k.title))</b>: \(esc(k.reason)).</li>\n" }
                s += "</ul>\n"
            }
        }
        return s + "</body></html>\n"
    }

    private func esc(_ text: String) -> String { SVG.escape(text) }

    private func groupTable(_ family: ReportFamily) -> String {
        func cell(_ a: Aggregate?, _ scale: Double = 1, _ digits: Int = 2) -> String {
            guard let a else { return "<td>–</td>" }
            let f = "%.\(digits)f"
            let range = a.count > 1 ? " <small>[\(String(format: f, a.min * scale))–\(String(format: f, a.max * scale))]</small>" : ""
            return "<td>\(String(format: f, a.median * scale))\(range)</td>"
        }
        var s = "<table><tr><th>setting</th><th>schedule</th><th>seeds</th><th>validation acc. %</th><th>training acc. %</th><th>training loss</th><th>training s (measured)</th><th>training s (modelled)</th></tr>\n"
        for g in family.groups {
            s += "<tr><td>\(esc(g.label))</td><td>\(esc(g.schedule))</td><td>\(g.runs.count)</td>"
            s += cell(g.aggregate { $0.summary?.testAccuracy }, 100) + cell(g.aggregate { $0.summary?.trainAccuracy }, 100)
            s += cell(g.aggregate(Quantity.trainLoss), 1, 4) + cell(g.aggregate(Quantity.measuredSeconds), 1, 1)
            s += cell(g.aggregate(Quantity.modelledSeconds), 1, 1) + "</tr>\n"
        }
        return s + "</table>\n"
    }
}
