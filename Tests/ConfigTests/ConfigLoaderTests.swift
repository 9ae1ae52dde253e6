import Algorithms
import Data
import Foundation
import NN
import RunFiles
import TestSupport
import XCTest
@testable import Config

final class ConfigLoaderTests: XCTestCase {
    private func write(_ name: String, _ contents: String) throws -> String {
        let path = try makeTemporaryDirectory(self) + "/" + name
        try AtomicFile.write(Data(contents.utf8), to: path)
        return path
    }

    private var expected: RunConfig {
        var config = RunConfig()
        config.data.dataset = .synthetic
        config.model.kind = .mlp
        config.schedule.epochs = 3
        config.schedule.batchSize = 16
        config.schedule.lr = 1
        config.schedule.decayEpochs = [2]
        config.algorithm.groupSize = [2, 4]
        config.algorithm.kind = .postLocal
        config.algorithm.workers = 4
        config.algorithm.localSteps = 8
        config.algorithm.switchEpoch = 1
        config.execution.seed = 42
        config.optimizer.weightDecay = 1e-4
        config.optimizer.nesterov = false
        config.execution.initWeights = "w.safetensors"
        return config
    }

    /// One config in three formats, with kebab-case keys, an integer where a Float is expected
    /// and a single integer for a list field, gives the same RunConfig (exact equality).
    func testSameConfigInTOMLYAMLAndJSON() throws {
        let toml = """
        # a post-local SGD run
        dataset = "synthetic"
        model = "mlp"
        epochs = 3
        batch-size = 16
        lr = 1
        decay-epochs = 2
        group_size = [2, 4]
        algorithm = "post-local"
        workers = 4
        local-steps = 8
        switch_epoch = 1
        seed = 42
        weight_decay = 0.0001
        nesterov = false
        init = "w.safetensors"
        """
        let yaml = """
        dataset: synthetic
        model: mlp
        epochs: 3
        batch-size: 16
        lr: 1
        decay-epochs: 2
        group_size: [2, 4]
        algorithm: post-local
        workers: 4
        local-steps: 8
        switch_epoch: 1
        seed: 42
        weight_decay: 1.0e-4
        nesterov: false
        init: w.safetensors
        """
        let json = """
        {"dataset": "synthetic", "model": "mlp", "epochs": 3, "batch-size": 16, "lr": 1, "decay-epochs": 2,
         "group_size": [2, 4], "algorithm": "post-local", "workers": 4, "local-steps": 8, "switch_epoch": 1,
         "seed": 42, "weight_decay": 1e-4, "nesterov": false, "init": "w.safetensors"}
        """
        XCTAssertEqual(try ConfigLoader.load(write("run.toml", toml)), expected)
        XCTAssertEqual(try ConfigLoader.load(write("run.yaml", yaml)), expected)
        XCTAssertEqual(try ConfigLoader.load(write("run.yml", yaml)), expected)
        XCTAssertEqual(try ConfigLoader.load(write("run.json", json)), expected)
    }

    /// Fields a file leaves out keep the base's values, bit for bit (Floats survive the JSON trip).
    /// A run's config.json is a config file: its `derived` block is what the run computed, not a
    /// setting, so `--config RUN/config.json` reruns the run.
    func testARunsConfigJSONLoadsAsAConfigFile() throws {
        var table = try JSONSerialization.jsonObject(with: RunDirectory.encoder().encode(expected)) as! [String: Any]
        table["derived"] = ["parameters": 7850, "steps_per_epoch": 8]
        let data = try JSONSerialization.data(withJSONObject: table, options: [.prettyPrinted, .sortedKeys])
        let path = try write("config.json", String(decoding: data, as: UTF8.self))
        XCTAssertEqual(try ConfigLoader.load(path), expected)
        table["derived_typo"] = 1
        let typo = try write("config.json", String(decoding: try JSONSerialization.data(withJSONObject: table), as: UTF8.self))
        XCTAssertThrowsError(try ConfigLoader.load(typo)) { XCTAssertTrue("\($0)".contains("unknown field 'derived_typo'"), "\($0)") }
    }

    func testApplyKeepsUnsetFieldsExactly() throws {
        var base = expected
        base.schedule.lr = Float(0.1).nextUp
        base.algorithm.slowmoMomentum = 1e-7
        base.execution.seed = .max
        base.execution.network = "ethernet"
        XCTAssertEqual(try ConfigLoader.apply([:], to: base, source: "test"), base)
        XCTAssertEqual(try ConfigLoader.apply([:], to: RunConfig(), source: "test"), RunConfig())
        XCTAssertEqual(try ConfigLoader.load(write("empty.yaml", "")), RunConfig())
        XCTAssertEqual(try ConfigLoader.load(write("empty.toml", "# nothing\n")), RunConfig())

        let changed = try ConfigLoader.apply(["network": NSNull(), "global-every": [3, 6], "momentum": 0.5,
                                              "slowmo_lr": Float(0.25)], to: base, source: "command line")
        XCTAssertNil(changed.execution.network)
        XCTAssertEqual(changed.algorithm.globalEvery, [3, 6])
        XCTAssertEqual(changed.optimizer.momentum, 0.5)
        XCTAssertEqual(changed.algorithm.slowmoLr, 0.25)
        XCTAssertEqual(changed.schedule.lr, base.schedule.lr)
    }

    func testSweepFileKeepsTablesWithNormalisedKeys() throws {
        let path = try write("sweep.toml", "name = \"h\"\n[grid]\nlocal-steps = [1, 2, 4]\nlr = [0.1, 0.2]\n")
        let parsed = try ConfigLoader.parseFile(path)
        XCTAssertEqual(parsed["name"] as? String, "h")
        let grid = try XCTUnwrap(parsed["grid"] as? [String: Any])
        XCTAssertEqual(grid["local_steps"] as? [Int], [1, 2, 4])
        XCTAssertEqual(grid["lr"] as? [Double], [0.1, 0.2])
        XCTAssertThrowsError(try ConfigLoader.load(path)) { error in
            XCTAssertTrue("\(error)".hasPrefix("unknown field 'grid' in \(path)"), "\(error)")
        }
    }

    // MARK: Errors: each names the file and the field

    private func assertError(_ name: String, _ contents: String, _ message: (String) -> String, line: UInt = #line) {
        do {
            let path = try write(name, contents)
            XCTAssertThrowsError(try ConfigLoader.load(path), line: line) { error in
                XCTAssertTrue(error is ConfigError, "\(type(of: error))", line: line)
                XCTAssertEqual("\(error)", message(path), line: line)
            }
        } catch { XCTFail("\(error)", line: line) }
    }

    func testUnknownFieldSuggestsClosestName() {
        assertError("run.toml", "batchsize = 4\n") {
            "unknown field 'batchsize' in \($0) (did you mean 'batch_size'?); known fields: "
                + RunConfig.fieldNames.joined(separator: ", ") + "."
        }
        assertError("run.yaml", "colour: blue\n") {
            "unknown field 'colour' in \($0); known fields: " + RunConfig.fieldNames.joined(separator: ", ") + "."
        }
    }

    func testWrongTypesNameFieldAndExpectation() {
        assertError("run.toml", "epochs = \"ten\"\n") { "field 'epochs' in \($0): expected an integer, got 'ten'." }
        assertError("run.yaml", "lr: fast\n") { "field 'lr' in \($0): expected a number, got 'fast'." }
        assertError("run.json", #"{"shuffle": 1}"#) { "field 'shuffle' in \($0): expected true or false, got 1." }
        assertError("run.toml", "network = 10\n") { "field 'network' in \($0): expected a string, got 10." }
        assertError("run.yaml", "seed: -1\n") { "field 'seed' in \($0): expected a non-negative integer, got -1." }
        assertError("run.yaml", "epochs: null\n") { "field 'epochs' in \($0): expected an integer, got null." }
        assertError("run.toml", "group_size = [2, \"4\"]\n") {
            "field 'group_size' in \($0): expected an integer or a list of integers, got [2, '4']."
        }
    }

    /// A wrong value is quoted up to 120 characters, then "…": 90,000 numbers or a 500 KB
    /// string make a one-line error, not half a megabyte.
    func testHugeWrongValuesAreQuotedInOneLine() {
        let numbers = "[" + Array(repeating: "12345", count: 90_000).joined(separator: ", ") + "]"
        assertError("wide.json", #"{"lr": \#(numbers)}"#) {
            "field 'lr' in \($0): expected a number, got " + String(numbers.prefix(120)) + "…."
        }
        let word = String(repeating: "x", count: 500_000)
        assertError("long.yaml", "model: \(word)\n") {
            "field 'model' in \($0): '" + String(repeating: "x", count: 119) + "… is not one of "
                + ModelKind.allCases.map(\.rawValue).joined(separator: ", ") + "."
        }
        XCTAssertEqual(ConfigLoader.show([1, [2, 3]] as [Any]), "[1, [2, 3]]")
        XCTAssertEqual(ConfigLoader.show([1, 2, 3] as [Any], limit: 9), "[1, 2, 3]", "exactly the limit: no ellipsis")
        XCTAssertEqual(ConfigLoader.show([1, 2, 3] as [Any], limit: 8), "[1, 2, 3…")
    }

    func testFloatWhereIntegerExpectedInEveryFormat() {
        for (name, text) in [("a.toml", "batch_size = 3.5"), ("a.yaml", "batch_size: 3.5"), ("a.json", #"{"batch_size": 3.5}"#)] {
            assertError(name, text) { "field 'batch_size' in \($0): expected an integer, got 3.5." }
        }
        assertError("b.toml", "epochs = 2\ndecay_epochs = [1, 1.5]\n") {
            "field 'decay_epochs' in \($0): expected an integer or a list of integers, got [1, 1.5]."
        }
    }

    /// `reduction` (MPI's summation order) from every format and from the flag; a wrong value
    /// lists the choices.
    func testReductionIsReadFromFilesAndFlags() throws {
        for (name, text) in [("run.toml", "reduction = \"ordered\"\n"), ("run.yaml", "reduction: ordered\n"),
                             ("run.json", #"{"reduction": "ordered"}"#)] {
            XCTAssertEqual(try ConfigLoader.load(try write(name, text)).execution.reduction, .ordered, name)
        }
        XCTAssertEqual(RunConfig().execution.reduction, .fast, "MPI_Allreduce unless asked")
        let flagged = try ConfigLoader.apply(["reduction": "ordered"], to: RunConfig(), source: ConfigLoader.commandLine)
        XCTAssertEqual(flagged.execution.reduction, .ordered)
        assertError("run.toml", "reduction = \"tree\"\n") { "field 'reduction' in \($0): 'tree' is not one of ordered, fast." }
    }

    /// `conv_backend` (the convolutions' kernels) from every format, the section and the flag's
    /// spelling; oneDNN unless asked; a wrong value names the field and lists the choices.
    func testConvBackendIsReadFromFilesAndFlags() throws {
        for (name, text) in [("run.toml", "conv_backend = \"blas\"\n"), ("run.yaml", "conv-backend: blas\n"),
                             ("run.json", #"{"execution": {"conv_backend": "blas"}}"#)] {
            XCTAssertEqual(try ConfigLoader.load(try write(name, text)).execution.convBackend, .blas, name)
        }
        XCTAssertEqual(RunConfig().execution.convBackend, .onednn, "oneDNN's kernels unless asked")
        let flagged = try ConfigLoader.apply(["conv_backend": "blas"], to: RunConfig(), source: ConfigLoader.commandLine)
        XCTAssertEqual(flagged.execution.convBackend, .blas)
        assertError("run.toml", "conv_backend = \"mkl\"\n") { "field 'conv_backend' in \($0): 'mkl' is not one of blas, onednn." }
    }

    func testBadEnumValueListsChoices() {
        assertError("run.toml", "model = \"resnet99\"\n") {
            "field 'model' in \($0): 'resnet99' is not one of " + ModelKind.allCases.map(\.rawValue).joined(separator: ", ") + "."
        }
        assertError("run.json", #"{"algorithm": "postlocal"}"#) {
            "field 'algorithm' in \($0): 'postlocal' is not one of " + AlgorithmKind.allCases.map(\.rawValue).joined(separator: ", ") + "."
        }
    }

    func testMalformedFilesNameFileAndLine() {
        assertMalformed("run.toml", "epochs = 3\nlr = \n", "is not valid TOML at line 2: ")
        assertMalformed("run.yaml", "epochs: 3\nlr: [0.1, 0.2\nseed: 1\n", "is not valid YAML at line ")
        assertMalformed("run.json", "{\n  \"epochs\": 3,\n  \"lr\": \n}", "is not valid JSON at line 4: ")
        assertMalformed("run.ini", "epochs = 3", "has extension '.ini'; expected .toml, .yaml, .yml or .json.")
        assertMalformed("run.yaml", "- epochs\n- lr\n", "must be a table of fields at the top level.")
        assertMalformed("run.yaml", "lr: .inf\n", "expected a finite number, got inf.")
        assertMalformed("run.toml", "epochs = 1979-05-27\n", "is a TOML date or time; no field takes one.")
        assertMalformed("run.yaml", "batch-size: 8\nbatch_size: 8\n", "is given twice")
        assertMalformed("run.toml", "[workers]\ncount = 2\n", "is a table; a run config takes plain values only.")
    }

    private func assertMalformed(_ name: String, _ contents: String, _ phrase: String, line: UInt = #line) {
        do {
            let path = try write(name, contents)
            XCTAssertThrowsError(try ConfigLoader.load(path), line: line) { error in
                XCTAssertTrue("\(error)".contains(path), "'\(error)' does not name the file", line: line)
                XCTAssertTrue("\(error)".contains(phrase), "'\(error)' lacks '\(phrase)'", line: line)
            }
        } catch { XCTFail("\(error)", line: line) }
    }

    func testMissingFileIsAFileError() throws {
        let path = try makeTemporaryDirectory(self) + "/absent.toml"
        XCTAssertThrowsError(try ConfigLoader.parseFile(path)) { error in
            XCTAssertEqual("\(error)", "cannot read '\(path)': opening failed: No such file or directory.")
        }
    }
}
