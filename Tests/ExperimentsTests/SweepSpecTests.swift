import XCTest
@testable import Experiments
import Config
import Algorithms
import Training
import NN
import RunFiles
import TestSupport

final class SweepSpecTests: XCTestCase {
    func testGridExpandsToEveryCombinationWithReadableNames() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Fixtures.base + """
        [axes]
        seed = [1, 2]
        local_steps = [1, 4]
        workers = [2, 8]
        algorithm = ["local"]
        """, in: dir)
        let points = try spec.expand()
        XCTAssertEqual(points.count, 8)
        // Fields in RunConfig order, whatever the file's order; the last axis varies fastest.
        XCTAssertEqual(points[0].name, "algorithm=local,workers=2,local_steps=1,seed=1")
        XCTAssertEqual(points[1].name, "algorithm=local,workers=2,local_steps=1,seed=2")
        XCTAssertEqual(Set(points.map(\.name)).count, 8)
        let p = try XCTUnwrap(points.first { $0.name == "algorithm=local,workers=8,local_steps=4,seed=2" })
        XCTAssertEqual(p.config.algorithm.workers, 8)
        XCTAssertEqual(p.config.algorithm.localSteps, 4)
        XCTAssertEqual(p.config.execution.seed, 2)
        XCTAssertEqual(p.config.model.kind, .logreg)  // from the base
        XCTAssertEqual(p.config.schedule.epochs, 1)
    }

    /// The MPI summation order is a field like any other: an axis of a sweep.
    func testReductionIsAnAxis() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Fixtures.base + """
        [axes]
        reduction = ["ordered", "fast"]
        """, in: dir)
        let points = try spec.expand()
        XCTAssertEqual(points.map(\.name), ["reduction=ordered", "reduction=fast"])
        XCTAssertEqual(points.map(\.config.execution.reduction), [.ordered, .fast])
    }

    func testIncludesAddPointsAndSeedsCrossEverything() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec("seeds = [1, 2]\n" + Fixtures.base.replacingOccurrences(of: "threads = 1\n", with: "") + """
        [axes]
        algorithm = ["minibatch"]
        workers = [1, 2]

        [[include]]
        algorithm = "post-local"
        workers = 2
        local_steps = 2
        switch_epoch = [0, 1]

        [[include]]
        algorithm = "hierarchical"
        workers = 4
        group_size = [2]
        """, in: dir)
        let points = try spec.expand(threads: 1)
        XCTAssertEqual(points.count, 2 * (2 + 2 + 1))
        XCTAssertEqual(points.prefix(5).map(\.config.execution.seed), [1, 1, 1, 1, 1], "seeds outermost")
        let names = points.map(\.name)
        XCTAssertTrue(names.contains("algorithm=post-local,workers=2,local_steps=2,switch_epoch=1,seed=2"), "\(names)")
        XCTAssertTrue(names.contains("algorithm=minibatch,workers=1,local_steps=1,seed=1"), "\(names)")
        let hierarchical = try XCTUnwrap(points.first { $0.config.algorithm.kind == .hierarchical })
        XCTAssertEqual(hierarchical.config.algorithm.groupSize, [2], "a flat list in an include is one value of a list field")
        XCTAssertTrue(hierarchical.name.contains("group_size=2"))
        XCTAssertTrue(points.allSatisfy { $0.config.execution.threads == 1 }, "the runner's thread count when the file sets none")
    }

    /// A file with includes and no axes runs the includes only: the base alone is not a point.
    func testIncludesWithoutAxesRunOnlyTheIncludes() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Fixtures.base + """
        [[include]]
        algorithm = "local"
        workers = [2, 4]
        """, in: dir)
        XCTAssertEqual(try spec.expand().map(\.name), ["algorithm=local,workers=2", "algorithm=local,workers=4"])
        let alone = try Fixtures.spec(Fixtures.base, in: dir, name: "alone.toml")
        XCTAssertEqual(try alone.expand().count, 1, "without includes the base is the one run")
    }

    /// The count worked out before expanding is the number of runs expand makes (here none
    /// merge): seeds multiply the points that set no seed of their own.
    func testRunCountIsKnownBeforeTheGridIsMade() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec("seeds = [1, 2, 3]\n" + Fixtures.base + """
        [axes]
        workers = [1, 2]
        local_steps = [1, 2]

        [[include]]
        algorithm = "local"
        workers = 4
        seed = [7, 8]

        [[include]]
        algorithm = "local"
        workers = 8
        """, in: dir)
        XCTAssertEqual(spec.combinationCount, 3 * 4 + 2 + 3)
        XCTAssertEqual(try spec.expand().count, 3 * 4 + 2 + 3)
    }

    /// A few lines can name 10^20 runs; the sweep is refused with its count at once, before a
    /// grid is made.
    func testSweepsOfMoreThanTenThousandRunsAreRefusedAtOnce() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let ten = "[0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1]"
        for (fields, expected) in [(["lr", "momentum", "weight_decay", "local_steps"], "10000 runs"),
                                   (["lr", "momentum", "weight_decay", "local_steps", "seed"], "expands to 100000 runs"),
                                   (RunConfig.fieldNames.prefix(20).map { $0 }, "expands to about 1e+20 runs")] {
            let axes = fields.map { "\($0) = \($0 == "local_steps" || $0 == "seed" ? "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" : ten)" }
            let spec = try Fixtures.spec(Fixtures.base + "[axes]\n" + axes.joined(separator: "\n") + "\n", in: dir)
            guard fields.count > 4 else {
                XCTAssertEqual(spec.combinationCount, 10_000, "at the limit: allowed (not expanded here, it takes a while)")
                continue
            }
            let (seconds, outcome) = threadCPUSeconds { Result { try spec.expand() } }
            XCTAssertThrowsError(try outcome.get()) { error in
                XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains("at most 10000 are allowed: split it into several sweeps"),
                              "\(error)")
            }
            XCTAssertLessThan(seconds, 1)
        }
        // 2^63 runs (63 axes of two values) overflowed the conversion to an integer and trapped.
        let binary = RunConfig.fieldNames.prefix(63).map { "\($0) = [0, 1]" }.joined(separator: "\n")
        let huge = try Fixtures.spec(Fixtures.base + "[axes]\n" + binary + "\n", in: dir, name: "huge.toml")
        XCTAssertThrowsError(try huge.expand()) { error in
            XCTAssertTrue("\(error)".contains("expands to about 9.22e+18 runs"), "\(error)")
        }
    }

    func testDuplicatePointsRunOnce() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Fixtures.base + """
        [axes]
        workers = [2, 4]
        [[include]]
        workers = 4
        """, in: dir)
        XCTAssertEqual(try spec.expand().count, 2)
    }

    func testUnknownAxisFieldIsAnErrorNamingIt() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        XCTAssertThrowsError(try Fixtures.spec(Fixtures.base + "[axes]\nlocal_stpes = [1, 2]\n", in: dir)) { error in
            XCTAssertTrue("\(error)".contains("unknown axis field 'local_stpes'"), "\(error)")
            XCTAssertTrue("\(error)".contains("did you mean 'local_steps'?"), "\(error)")
            XCTAssertTrue("\(error)".contains("sweep.toml"), "\(error)")
        }
        XCTAssertThrowsError(try Fixtures.spec(Fixtures.base + "[[include]]\nwrokers = 2\n", in: dir)) { error in
            XCTAssertTrue("\(error)".contains("'wrokers'"), "\(error)")
        }
        XCTAssertThrowsError(try Fixtures.spec(Fixtures.base + "[axes]\nworkers = 4\n", in: dir)) { error in
            XCTAssertTrue("\(error)".contains("axis 'workers'") && "\(error)".contains("list"), "\(error)")
        }
        XCTAssertThrowsError(try Fixtures.spec(Fixtures.base + "colour = 1\n", in: dir)) { error in
            XCTAssertTrue("\(error)".contains("'colour'"), "\(error)")
        }
        // A value of the wrong type is caught when the points are made, naming the field.
        let spec = try Fixtures.spec(Fixtures.base + "[axes]\nworkers = [2, \"many\"]\n", in: dir)
        XCTAssertThrowsError(try spec.expand()) { error in
            XCTAssertTrue("\(error)".contains("'workers'"), "\(error)")
        }
    }

    func testYAMLAndJSONSweepsMatchTOML() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let toml = try Fixtures.spec(Fixtures.base + "[axes]\nworkers = [1, 2]\nalgorithm = [\"local\", \"minibatch\"]\n", in: dir)
        let yaml = try Fixtures.spec("""
        base: {dataset: synthetic, synthetic_train: 64, synthetic_test: 32, model: logreg, epochs: 1, batch_size: 8, threads: 1}
        axes:
          workers: [1, 2]
          algorithm: [local, minibatch]
        """, in: dir, name: "sweep.yaml")
        let json = try Fixtures.spec("""
        {"dataset": "synthetic", "synthetic-train": 64, "synthetic_test": 32, "model": "logreg", "epochs": 1, "batch_size": 8,
         "threads": 1, "axes": {"workers": [1, 2], "algorithm": ["local", "minibatch"]}}
        """, in: dir, name: "sweep.json")
        let names = try toml.expand().map(\.name)
        XCTAssertEqual(try yaml.expand().map(\.name), names)
        XCTAssertEqual(try json.expand().map(\.name), names)
        XCTAssertEqual(try json.expand().map(\.config), try toml.expand().map(\.config))
    }

    func testPresetsWriteSweepFilesThatReadBack() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        for preset in StudyPreset.allCases {
            let spec = preset.spec()
            let reread = try Fixtures.spec(spec.toml, in: dir, name: "\(preset.rawValue).toml")
            let a = try spec.expand(threads: 1), b = try reread.expand(threads: 1)
            XCTAssertEqual(a.map(\.name), b.map(\.name), preset.rawValue)
            XCTAssertEqual(a.map(\.config), b.map(\.config), preset.rawValue)
            XCTAssertFalse(a.isEmpty)
        }
        let quick = try StudyPreset.paperQuick.spec().expand(threads: 1)
        XCTAssertEqual(Set(quick.map(\.config.algorithm.workers)), [1, 4, 16])
        XCTAssertEqual(Set(quick.map(\.config.schedule.lrSchedule.rawValue)), ["cosine", "step"])
        XCTAssertTrue(quick.contains { $0.config.algorithm.kind == .slowmo && $0.config.algorithm.switchEpoch == 1 })
        let paper = try StudyPreset.paper.spec().expand(threads: 1)
        XCTAssertEqual(Set(paper.map(\.config.execution.seed)), [1, 2, 3])
        XCTAssertEqual(Set(paper.filter { $0.config.model.kind == .resnet20 }.map(\.config.execution.seed)), [1, 2, 3])
        let slowmo = paper.filter { $0.config.algorithm.kind == .slowmo }.map(\.config.algorithm)
        XCTAssertEqual(Set(slowmo.map(\.slowmoMomentum)), [0.5, 0.7])
        XCTAssertEqual(Set(slowmo.map(\.momentumSync)), [.local, .reset, .average])
        for sync in [MomentumSync.reset, .average] {
            XCTAssertTrue(paper.contains { $0.config.algorithm.kind == .local && $0.config.algorithm.momentumSync == sync }, "local SGD's baseline for \(sync)")
            XCTAssertTrue(paper.contains { $0.config.algorithm.kind == .postLocal && $0.config.algorithm.momentumSync == sync }, "post-local SGD's baseline for \(sync)")
        }
        XCTAssertEqual(paper.map(\.config.algorithm.localSteps).max(), 32)
        XCTAssertEqual(paper.map(\.config.algorithm.workers).max(), 64)
    }

    /// The presets rely on the linear scaling rule at every K: the default limit on the rate
    /// (`max_lr auto`) must not bind, and warm-up is the preset's own, not the default's.
    func testPresetsKeepTheLinearScalingRuleAndTheirWarmup() throws {
        for (preset, warmup) in [(StudyPreset.paperQuick, 1), (.paper, 1), (.convex, 0)] {
            for point in try preset.spec().expand(threads: 1) {
                let c = point.config
                XCTAssertEqual(c.peakLearningRate, c.schedule.lr * Float(c.algorithm.workers * c.schedule.batchSize) / 256, point.name)
                XCTAssertEqual(c.resolvedWarmupEpochs, warmup, point.name)
            }
        }
    }

    /// The presets with published runs keep the kernels those runs had (ours), every run of them;
    /// the others take the default (oneDNN's). A published run resumes into its own sweep.
    func testPublishedPresetsKeepTheConvolutionKernelsTheirRunsHad() throws {
        for preset in StudyPreset.allCases {
            let backends = Set(try preset.spec().expand(threads: 1).map(\.config.execution.convBackend))
            XCTAssertEqual(backends, [preset.keepsOurConvolutions ? .blas : ConvBackend.default], preset.rawValue)
        }
        XCTAssertFalse(StudyPreset.quickstart.keepsOurConvolutions)
        XCTAssertTrue(StudyPreset.paper.keepsOurConvolutions)

        // A run of the published study (its config.json names no backend: it predates the field).
        let run = try Fixtures.temporaryDirectory(self)
        var planned = try StudyPreset.paper.spec().expand(threads: 1)[0].config
        let written = try JSONSerialization.jsonObject(with: RunDirectory.encoder().encode(planned)) as! [String: Any]
        try JSONSerialization.data(withJSONObject: written.filter { $0.key != "conv_backend" })
            .write(to: URL(fileURLWithPath: run + "/config.json"))
        XCTAssertNoThrow(try SweepRunner.checkFinishedRun(run, matches: planned))
        planned.execution.convBackend = .onednn
        XCTAssertThrowsError(try SweepRunner.checkFinishedRun(run, matches: planned)) { error in
            XCTAssertTrue("\(error)".contains("field 'conv_backend': blas there, onednn now"), "\(error)")
        }
        // A model without convolutions: the backend does not change its numbers, so it does not
        // stand between a published run (diloco's gpt-mini, made before the field) and its sweep.
        var gpt = try StudyPreset.diloco.spec().expand(threads: 1)[0].config
        XCTAssertFalse(gpt.model.kind.hasConvolutions)
        XCTAssertEqual(gpt.execution.convBackend, .onednn)
        gpt.execution.convBackend = .blas
        let gptWritten = try JSONSerialization.jsonObject(with: RunDirectory.encoder().encode(gpt)) as! [String: Any]
        try JSONSerialization.data(withJSONObject: gptWritten.filter { $0.key != "conv_backend" })
            .write(to: URL(fileURLWithPath: run + "/config.json"), options: .atomic)
        gpt.execution.convBackend = .onednn
        XCTAssertNoThrow(try SweepRunner.checkFinishedRun(run, matches: gpt))
    }
}
