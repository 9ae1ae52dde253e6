import ArgumentParser
import Experiments
import Foundation
import Training

/// `localsgd report`: the study's figures and tables from a sweep or from run directories.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report (inline SVG figures of the study) and CSV tables from runs.",
        discussion: """
        DIR is a sweep directory, a directory of run directories, or a run directory; several may be \
        given. Runs that differ only in their seed are grouped (median, min, max). The page says which \
        of the study's figures the runs cannot show and why. CSV files go to csv/ beside the page; \
        tables an earlier report left there are removed.
        """)

    @Argument(help: "Sweep or run directories.") var directories: [String]
    @Option(help: "The HTML file (default: DIR/report.html for the first DIR).") var out: String?

    func run() throws {
        do {
            try reportingErrors {
                let path = try ReportCommand.write(directories, out: out)
                print("report: \(path)")
            }
        } catch is ExitCodeError {
            throw ExitCode.failure
        }
    }

    /// Builds and writes the report; prints a one-line summary; returns the HTML path.
    static func write(_ directories: [String], out: String?) throws -> String {
        let report = try Report.load(directories)
        let path = out ?? directories[0] + "/report.html"
        try report.write(to: path)
        let skipped = report.families.flatMap(\.skipped).count
        Console.status("report: \(report.records.count) runs (\(report.failed.count) failed or unfinished), \(report.groups.count) settings, \(report.figures.count) figures drawn, \(skipped) skipped (reasons on the page); CSV in \(((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("csv"))")
        return path
    }
}
