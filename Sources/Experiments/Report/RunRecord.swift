import Algorithms
import Config
import Foundation
import Training

/// One run directory as the report reads it: `config.json`, `summary.json`, `metrics.jsonl`,
/// `syncs.jsonl` when the run kept it and, for a failed sweep run, `error.txt`.
public struct RunRecord: Sendable {
    /// Path relative to the directory the report was asked for (the run's name in a sweep).
    public var name: String
    public var path: String
    public var config: RunConfig
    public var stepsPerEpoch: Int?
    public var summary: RunSummary?
    public var metrics: [EpochMetrics]
    public var error: String?
    /// The weight averages and outer steps of `syncs.jsonl` (gradient all-reduces left out: the
    /// figures plot weights); nil without the file.
    public var syncs: [SyncRecord]? = nil

    public var finished: Bool { summary != nil }

    /// The switching point in epochs (fractional for `switch_step`), nil when there is none.
    public var switchEpoch: Double? {
        if let e = config.algorithm.switchEpoch { return Double(e) }
        if let s = config.algorithm.switchStep, let n = stepsPerEpoch, n > 0 { return Double(s) / Double(n) }
        return nil
    }

    /// `post-local K=8 H=16 T=0.5`: what the run is, as the report's tables and legends say it.
    public var label: String { RunGroup.label(config, switchEpoch: switchEpoch) }

    /// Reads the run in `path`; nil if it has no `config.json` (not a run, or one that never started).
    public static func load(_ path: String, name: String) throws -> RunRecord? {
        let fm = FileManager.default
        let configFile = path + "/config.json", runFile = path + "/run.json"
        var error = (try? String(contentsOfFile: path + "/error.txt", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        var table: [String: Any]
        if fm.fileExists(atPath: configFile) {
            table = try ConfigLoader.parseFile(configFile)
        } else if fm.fileExists(atPath: runFile), error != nil {
            table = try ConfigLoader.parseFile(runFile)  // failed before training started
        } else {
            return nil
        }
        let derived = table.removeValue(forKey: "derived") as? [String: Any]
        let config = try ConfigLoader.apply(table, to: RunConfig(), source: configFile)
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var summary: RunSummary?
        if let data = fm.contents(atPath: path + "/summary.json") {
            do {
                summary = try decoder.decode(RunSummary.self, from: data)
            } catch {
                throw ConfigError("\(path)/summary.json is not a run summary: \(error)")
            }
        }
        var metrics: [EpochMetrics] = []
        if let text = try? String(contentsOfFile: path + "/metrics.jsonl", encoding: .utf8) {
            for (i, line) in text.split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                do {
                    metrics.append(try decoder.decode(EpochMetrics.self, from: Data(line.utf8)))
                } catch {
                    throw ConfigError("\(path)/metrics.jsonl line \(i + 1) is not an epoch record: \(error)")
                }
            }
        }
        if summary == nil && error == nil { error = "unfinished (no summary.json)" }
        var record = RunRecord(name: name, path: path, config: config, stepsPerEpoch: (derived?["steps_per_epoch"] as? NSNumber)?.intValue,
                               summary: summary, metrics: metrics, error: error)
        record.syncs = try weightSyncs(path + "/syncs.jsonl", decoder: decoder)
        return record
    }

    /// The `weights` and `outer` lines of a `syncs.jsonl`, or nil when there is none.
    static func weightSyncs(_ file: String, decoder: JSONDecoder) throws -> [SyncRecord]? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        var records: [SyncRecord] = []
        for (i, line) in text.split(separator: "\n").enumerated() where !line.contains("\"kind\":\"gradients\"") {
            do {
                records.append(try decoder.decode(SyncRecord.self, from: Data(line.utf8)))
            } catch {
                throw ConfigError("\(file) line \(i + 1) is not a synchronization record: \(error)")
            }
        }
        return records
    }

    /// Every run under `paths` (run directories, sweep directories, or directories of either),
    /// looking at most `depth` levels down; sorted by name.
    public static func discover(_ paths: [String], depth: Int = 3) throws -> [RunRecord] {
        var records: [RunRecord] = []
        let fm = FileManager.default
        func visit(_ path: String, name: String, level: Int) throws {
            if let record = try load(path, name: name.isEmpty ? (path as NSString).lastPathComponent : name) {
                records.append(record)
                return
            }
            guard level < depth, let children = try? fm.contentsOfDirectory(atPath: path) else { return }
            for child in children.sorted() where !child.hasPrefix(".") && child != "checkpoints" {
                var isDirectory: ObjCBool = false
                let full = path + "/" + child
                if fm.fileExists(atPath: full, isDirectory: &isDirectory), isDirectory.boolValue {
                    try visit(full, name: name.isEmpty ? child : name + "/" + child, level: level + 1)
                }
            }
        }
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ConfigError("\(path) is not a directory of runs.")
            }
            // With several roots, names start with the root's name so that they stay distinct.
            try visit(path, name: paths.count > 1 ? (path as NSString).lastPathComponent : "", level: 0)
        }
        return records.sorted { $0.name < $1.name }
    }
}
