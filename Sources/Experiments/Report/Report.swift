import Config
import Foundation
import RunFiles
import Training

/// The report of a set of runs: runs grouped by config minus seed,
/// aggregated (median, min, max), split into experiment families, and for each family the
/// study's figures that its runs can show, with the reason for every one they cannot.
public struct Report: Sendable {
    public var source: [String]
    public var records: [RunRecord]
    public var groups: [RunGroup]
    public var families: [ReportFamily]

    public init(records: [RunRecord], source: [String]) {
        self.source = source
        self.records = records
        groups = RunGroup.group(records)
        var byKey: [String: [RunGroup]] = [:], order: [String] = []
        for g in groups {
            if byKey[g.familyKey] == nil { order.append(g.familyKey) }
            byKey[g.familyKey, default: []].append(g)
        }
        families = order.map { ReportFamily(groups: byKey[$0]!) }
        Report.distinguishTitles(&families)
        for i in families.indices { families[i].build() }
    }

    /// Families whose titles (model, data, epochs, B, network) coincide differ in some other
    /// setting of their recipe; each such title gains the settings where it differs from the
    /// others of its name, e.g. "weight_decay 0.1".
    static func distinguishTitles(_ families: inout [ReportFamily]) {
        for title in Set(families.map(\.title)) {
            let same = families.indices.filter { families[$0].title == title }
            guard same.count > 1 else { continue }
            let fields = same.map { families[$0].groups[0].fields.filter { !RunGroup.studyFields.contains($0.key) } }
            let keys = Set(fields.flatMap(\.keys)).sorted().filter { key in
                Set(fields.map { $0[key].map { "\($0)" } ?? "–" }).count > 1
            }
            for (i, f) in zip(same, fields) {
                families[i].title += ", " + keys.map { "\($0) \(f[$0].map { "\($0)" } ?? "–")" }.joined(separator: ", ")
            }
        }
    }

    /// Reads every run under `paths` and builds the report.
    public static func load(_ paths: [String]) throws -> Report {
        let records = try RunRecord.discover(paths)
        guard !records.isEmpty else {
            throw ConfigError("no runs found in \(paths.joined(separator: ", ")): expected run directories with config.json, or a sweep directory of them.")
        }
        return Report(records: records, source: paths)
    }

    public var failed: [RunRecord] { records.filter { !$0.finished } }

    /// Every figure drawn, across families.
    public var figures: [Figure] { families.flatMap(\.figures) }

    /// `runs.csv`: one row per run with its config's study fields (the base-momentum policy,
    /// DyLU, faults and worker speeds among them) and its summary.
    public var runsCSV: String {
        let header = ["run", "finished", "model", "dataset", "epochs", "algorithm", "workers", "local_steps", "switch_epoch",
                      "compress", "error_feedback", "qsr_alpha", "streaming_fragments", "streaming_overlap",
                      "momentum_sync", "dynamic_local_steps", "faults", "worker_speeds", "lr_schedule", "slowmo_lr", "slowmo_momentum", "outer_optimizer", "outer_lr", "outer_momentum", "seed",
                      "test_accuracy", "test_loss", "test_bits_per_char", "train_accuracy",
                      "train_loss", "steps", "syncs", "bytes_communicated", "seconds", "training_seconds", "modelled_seconds", "error"]
        let rows = records.map { r -> [String] in
            let c = r.config, s = r.summary, a = c.algorithm, diloco = a.kind == .diloco
            return [r.name, s == nil ? "false" : "true", c.model.kind.rawValue, c.data.dataset.rawValue, String(c.schedule.epochs), a.kind.rawValue,
                    String(a.workers), String(a.localSteps), CSV.number(r.switchEpoch),
                    a.compress == .topk ? "topk \(a.compressRatio)" : a.compress.rawValue, a.errorFeedback ? "true" : "false",
                    a.qsrAlpha.map { CSV.number(Double($0)) } ?? "", String(a.streamingFragments), String(a.streamingOverlap),
                    a.momentumSync.rawValue, a.dynamicLocalSteps ? "true" : "false", c.execution.faults ?? "", c.execution.workerSpeeds ?? "",
                    c.schedule.lrSchedule.rawValue,
                    CSV.number(Double(a.slowmoLr)), CSV.number(Double(a.slowmoMomentum)),
                    diloco ? a.outerOptimizer.rawValue : "", diloco ? CSV.number(Double(a.resolvedOuterLr)) : "",
                    diloco ? CSV.number(Double(a.dilocoOuterOptimizer.momentum)) : "", String(c.execution.seed),
                    CSV.number(s?.testAccuracy), CSV.number(s?.testLoss), CSV.number(s?.testBitsPerChar), CSV.number(s?.trainAccuracy), CSV.number(s?.trainLoss),
                    s.map { String($0.steps) } ?? "", s.map { String($0.syncs) } ?? "", s.map { String($0.bytesCommunicated) } ?? "",
                    CSV.number(s?.seconds), CSV.number(s?.time.training), CSV.number(s?.modelledSeconds), r.error ?? ""]
        }
        return CSV.table(header: header, rows: rows)
    }

    static let groupQuantities: [(String, (RunRecord) -> Double?)] = [
        ("test_accuracy", { $0.summary?.testAccuracy }), ("test_loss", { $0.summary?.testLoss }),
        ("test_bits_per_char", { $0.summary?.testBitsPerChar }), ("train_accuracy", { $0.summary?.trainAccuracy }), ("train_loss", { $0.summary?.trainLoss }),
        ("training_seconds", Quantity.measuredSeconds), ("modelled_seconds", Quantity.modelledSeconds),
    ]

    /// `groups.csv`: one row per group with median, min and max over its seeds.
    public var groupsCSV: String {
        var header = ["family", "group", "seeds"]
        for (name, _) in Report.groupQuantities { header += ["\(name)_median", "\(name)_min", "\(name)_max"] }
        var rows: [[String]] = []
        for family in families {
            for g in family.groups {
                var row = [family.title, g.label + " " + g.schedule, g.seeds.map(String.init).joined(separator: " ")]
                for (_, value) in Report.groupQuantities {
                    let a = g.aggregate(value)
                    row += [CSV.number(a?.median), CSV.number(a?.min), CSV.number(a?.max)]
                }
                rows.append(row)
            }
        }
        return CSV.table(header: header, rows: rows)
    }

    /// CSV files by name: runs, groups, and one per drawn figure (prefixed by family when there are several).
    public var csvFiles: [(name: String, text: String)] {
        var files = [(name: "runs.csv", text: runsCSV), (name: "groups.csv", text: groupsCSV)]
        for (i, family) in families.enumerated() {
            for figure in family.figures { files.append((csvName(family: i, figure: figure), figure.csv)) }
        }
        return files
    }

    func csvName(family: Int, figure: Figure) -> String {
        families.count == 1 ? "\(figure.id).csv" : "family\(family + 1)-\(figure.id).csv"
    }

    /// Writes the HTML page to `htmlPath` and the CSV files into `csv/` beside it.
    public func write(to htmlPath: String) throws {
        let directory = (htmlPath as NSString).deletingLastPathComponent
        let csvDirectory = (directory.isEmpty ? "." : directory) + "/csv"
        do {
            try FileManager.default.createDirectory(atPath: csvDirectory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError("cannot create \(csvDirectory): \(error.localizedDescription)")
        }
        let files = csvFiles
        // Tables an earlier report of other runs wrote (other families, figures no longer drawn)
        // would read as this report's: the report owns csv/, so only its own tables stay.
        let keep = Set(files.map(\.name))
        for name in (try? FileManager.default.contentsOfDirectory(atPath: csvDirectory)) ?? [] where name.hasSuffix(".csv") && !keep.contains(name) {
            try? FileManager.default.removeItem(atPath: csvDirectory + "/" + name)
        }
        for file in files { try AtomicFile.write(Data(file.text.utf8), to: csvDirectory + "/" + file.name) }
        try AtomicFile.write(Data(html().utf8), to: htmlPath)
    }
}

extension ReportFamily {
    /// Draws every figure this family's runs allow.
    mutating func build() {
        let f = self
        let builders: [(String, () -> FigureResult)] = [
            ("Fig. 1 — Time per iteration by part", f.figure1), ("Fig. 2 — Total time vs workers", f.figure2),
            ("Fig. 3 — Normalised speedup over minibatch SGD", f.figure3), ("Fig. 4 — Training accuracy vs workers", f.figure4),
            ("Fig. 5 — Validation accuracy vs workers", f.figure5), ("Fig. 6 — Validation accuracy vs K×H", f.figure6),
            ("Fig. 7 — Switching point, step schedule", { f.switchFigure(schedule: "step") }),
            ("Fig. 8 — Switching point, cosine schedule", { f.switchFigure(schedule: "cosine") }),
            ("Fig. 10 — SlowMo vs none", f.figure10), ("Fig. 11 — Curves by switching point", f.figure11),
            ("Convex — Loss vs workers at equal gradient evaluations", f.convexLossVsWorkers),
            ("Convex — Loss vs communication rounds", f.convexLossVsRounds),
            ("Loss curves — DiLoCo, local and minibatch SGD", f.lossCurves),
            ("Synchronizations — consensus distance and pseudo-gradient norm", f.syncFigure),
            ("Trade-off — accuracy vs communication", f.accuracyVsCommunication),
            ("Faults — Accuracy and modelled time with a lost worker or a straggler", f.faultFigure),
        ]
        for (title, build) in builders {
            switch build() {
            case .drawn(let figure): figures.append(figure)
            case .skipped(let reason):
                let diloco = groups.contains { $0.algorithm == "diloco" }
                let communication = groups.contains { g in
                    let a = g.config.algorithm
                    return a.compress != .none || a.hasVaryingLocalSteps || a.isStreaming
                }
                let faults = groups.contains { ReportFamily.scenario($0.config) != "fault-free" }
                if !(title.hasPrefix("Convex") && model != "logreg") && !(title.hasPrefix("Loss curves") && !diloco)
                    && !title.hasPrefix("Synchronizations") && !(title.hasPrefix("Trade-off") && !communication)
                    && !(title.hasPrefix("Faults") && !faults) {
                    skipped.append(SkippedFigure(title: title, reason: reason))
                }
            }
        }
    }
}
