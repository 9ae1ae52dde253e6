import Foundation
import Optim
import RunFiles
import TestSupport
import XCTest
@testable import Config

/// RunConfig in sections: one table of fields, config files by flat name or `section.key`, and
/// config.json exactly as before the sections (so old run directories still `--resume`).
final class RunConfigSectionsTests: XCTestCase {
    /// config.json of a run made before the sections (`localsgd train ... --algorithm post-local
    /// --switch-epoch 1 --decay-epochs 1 --network 10gbit:50us --checkpoint-every 1e ...`).
    static let oldConfigJSON = """
        {
          "adam_beta1" : 0.9,
          "adam_beta2" : 0.999,
          "adam_epsilon" : 1e-08,
          "algorithm" : "post-local",
          "async_delay" : 0,
          "async_deterministic" : false,
          "augment_crop" : 0,
          "augment_flip" : false,
          "backend" : "inprocess",
          "batch_size" : 8,
          "bn_sync" : "average",
          "checkpoint_every" : "1e",
          "collective_timeout" : 0,
          "context_length" : 64,
          "dataset" : "synthetic",
          "decay_epochs" : [
            1
          ],
          "decay_factor" : 0.1,
          "derived" : {
            "blas_core_type" : "Cooperlake",
            "decay_epochs" : [
              1
            ],
            "normalization" : {
              "mean" : [
                0.5016007
              ],
              "std" : [
                0.15799263
              ]
            },
            "parameters" : 7850,
            "peak_learning_rate" : 0.0125,
            "steps_per_epoch" : 8,
            "test_samples" : 32,
            "train_samples" : 256,
            "warmup_epochs" : 0
          },
          "epochs" : 2,
          "eval_batch_size" : 256,
          "global_every" : [

          ],
          "group_size" : [

          ],
          "inject_latency" : 0,
          "local_steps" : 1,
          "lr" : 0.1,
          "lr_schedule" : "step",
          "max_lr" : 0.3,
          "model" : "logreg",
          "momentum" : 0.9,
          "momentum_correction" : true,
          "momentum_sync" : "local",
          "nesterov" : true,
          "network" : "10gbit:50us",
          "nodes" : 1,
          "optimizer" : "sgd",
          "reduction" : "fast",
          "scale_lr" : true,
          "seed" : 1,
          "shortcut" : "zero-pad",
          "shuffle" : false,
          "slowmo_lr" : 0.7,
          "slowmo_momentum" : 0.5,
          "slowmo_nesterov" : false,
          "switch_epoch" : 1,
          "synthetic_test" : 32,
          "synthetic_train" : 256,
          "threads" : 1,
          "threads_per_node" : 1,
          "warmup_epochs" : 0,
          "weight_decay" : 0.0001,
          "workers" : 4
        }
        """

    /// Fields with a default that config.json gained after `oldConfigJSON` was written.
    static let fieldsAddedSince = ["outer_optimizer", "outer_lr_schedule", "streaming_fragments", "streaming_overlap", "compress", "compress_ratio", "error_feedback", "sync_record", "dynamic_local_steps", "conv_backend"]

    /// config.json as `RunDirectory.writeConfig` writes it, less the fields `without`.
    private func written(_ config: RunConfig, derived: Any, without: [String] = []) throws -> String {
        var object = try JSONSerialization.jsonObject(with: RunDirectory.encoder().encode(config)) as! [String: Any]
        for key in without { object[key] = nil }
        object["derived"] = derived
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
    }

    func testOldFlatConfigJSONDecodesAndIsWrittenAgainByteForByte() throws {
        var table = try JSONSerialization.jsonObject(with: Data(Self.oldConfigJSON.utf8)) as! [String: Any]
        let derived = table.removeValue(forKey: "derived")!
        let file = try makeTemporaryDirectory(self) + "/config.json"
        try Data(Self.oldConfigJSON.utf8).write(to: URL(fileURLWithPath: file))
        let config = try RunDirectory.savedConfig(file)
        XCTAssertEqual(config.algorithm.kind, .postLocal)
        XCTAssertEqual(config.algorithm.switchEpoch, 1)
        XCTAssertEqual(config.schedule.decayEpochs, [1])
        XCTAssertEqual(config.schedule.batchSize, 8)
        XCTAssertEqual(config.schedule.maxLr, .rate(0.3))
        XCTAssertEqual(config.schedule.warmupEpochs, .epochs(0))
        XCTAssertEqual(config.data.shuffle, false)
        XCTAssertEqual(config.optimizer.weightDecay, 1e-4)
        XCTAssertEqual(config.algorithm.slowmoLr, 0.7)
        XCTAssertEqual(config.execution.network, "10gbit:50us")
        XCTAssertEqual(config.execution.checkpointEvery, "1e")
        XCTAssertNil(config.execution.initWeights)
        XCTAssertEqual(try written(config, derived: derived, without: Self.fieldsAddedSince), Self.oldConfigJSON)
        let new = try JSONSerialization.jsonObject(with: RunDirectory.encoder().encode(config)) as! [String: Any]
        XCTAssertEqual(new["outer_optimizer"] as? String, "nesterov", "fields added since take their defaults")
        XCTAssertEqual(new["outer_lr_schedule"] as? String, "constant")
        XCTAssertEqual(new["streaming_fragments"] as? Int, 1)
        XCTAssertEqual(new["streaming_overlap"] as? Int, 0)
        XCTAssertEqual(new["compress"] as? String, "none")
        XCTAssertEqual(new["error_feedback"] as? Bool, false)
        XCTAssertEqual(new["sync_record"] as? String, "on")
        XCTAssertEqual(new["conv_backend"] as? String, "blas", "a config.json without a backend ran with ours")
        XCTAssertEqual(RunConfig().execution.convBackend, .onednn, "where a new config names none, oneDNN")
        // decoded directly too (as a checkpoint's config is: a backend left out reads as ours), and
        // with a field it did not know yet left out
        XCTAssertNil(table["conv_backend"])
        XCTAssertEqual(try JSONDecoder().decode(RunConfig.self, from: JSONSerialization.data(withJSONObject: table)), config)
        for newer in ["collective_timeout", "context_length", "adam_beta1", "adam_beta2", "adam_epsilon"] { table[newer] = nil }
        XCTAssertEqual(try JSONDecoder().decode(RunConfig.self, from: JSONSerialization.data(withJSONObject: table)), config)
    }

    func testTheTableNamesEveryFieldOnce() throws {
        let names = RunConfig.fields.map(\.name), paths = RunConfig.fields.map(\.path)
        XCTAssertEqual(Set(names).count, names.count)
        XCTAssertEqual(Set(paths).count, paths.count)
        XCTAssertEqual(Set(RunConfig.fields.map(\.keyPath)).count, names.count)
        XCTAssertEqual(names.count, 73)
        // every field reaches config.json under its name (unset optional ones are left out)
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(RunConfig())) as! [String: Any]
        let unset: Set = ["data_dir", "decay_epochs", "switch_epoch", "switch_step", "network", "average_every",
                          "average_seconds", "init", "checkpoint_every", "outer_lr", "outer_momentum", "grad_clip", "qsr_alpha", "streaming_mix",
                          "faults", "worker_speeds", "modelled_compute"]
        XCTAssertEqual(Set(encoded.keys), Set(names).subtracting(unset))
        XCTAssertEqual(RunConfig.ranges.count, 41)
        XCTAssertEqual(RunConfig.integerListFields, ["decay_epochs", "group_size", "global_every"])
        XCTAssertEqual(RunConfig.field(\RunConfig.schedule.epochs).help, "Epochs to train, 1 to 10000 (default 10).")
        XCTAssertEqual(RunConfig.field(\RunConfig.optimizer.weightDecay).help,
                       "L2 weight decay on all parameters, 0 to 1 (default 0.0005).")
    }

    /// The run's defaults, each held once: the optimizer section is `OptimizerConfig` itself.
    func testDefaultsAreTheRunsOwn() {
        let c = RunConfig()
        XCTAssertEqual(c.optimizerConfig, OptimizerConfig())
        XCTAssertEqual(c.optimizer.weightDecay, 5e-4)
        XCTAssertEqual(c.schedule.lrSchedule, .cosine)
        XCTAssertEqual(c.schedule.warmupEpochs, .auto)
        XCTAssertEqual(c.resolvedWarmupEpochs, 0)
        XCTAssertEqual(c.scheduleConfig.kind, .cosine)
        XCTAssertEqual(c.scheduleConfig.epochs, 10)
        XCTAssertEqual(c.algorithm.kind, .minibatch)
    }

    private func write(_ name: String, _ contents: String) throws -> String {
        let path = try makeTemporaryDirectory(self) + "/" + name
        try AtomicFile.write(Data(contents.utf8), to: path)
        return path
    }

    func testSectionsInEveryFormatEqualFlatNames() throws {
        let flat = try ConfigLoader.load(write("flat.toml", "batch_size = 16\nlr = 0.5\nmodel = \"mlp\"\nnodes = 2\nalgorithm = \"async\"\n"))
        XCTAssertEqual(flat.schedule.batchSize, 16)
        let files = [
            ("tables.toml", "[schedule]\nbatch-size = 16\nlr = 0.5\n[model]\nkind = \"mlp\"\n[async]\nnodes = 2\n[algorithm]\nkind = \"async\"\n"),
            ("dotted.toml", "schedule.batch_size = 16\nschedule.lr = 0.5\nmodel.kind = \"mlp\"\nasync.nodes = 2\nalgorithm = \"async\"\n"),
            ("nested.yaml", "schedule:\n  batch_size: 16\n  lr: 0.5\nmodel:\n  kind: mlp\nasync:\n  nodes: 2\nalgorithm: async\n"),
            ("dotted.json", #"{"schedule.batch_size": 16, "schedule.lr": 0.5, "model.kind": "mlp", "async.nodes": 2, "algorithm.kind": "async"}"#),
        ]
        for (name, text) in files {
            XCTAssertEqual(try ConfigLoader.load(write(name, text)), flat, name)
        }
    }

    func testSectionErrorsNameTheFieldAsWritten() throws {
        let twice = try write("twice.toml", "batch_size = 8\n[schedule]\nbatch_size = 16\n")
        XCTAssertThrowsError(try ConfigLoader.load(twice)) {
            XCTAssertEqual("\($0)", "field 'batch_size' is given twice in \(twice) (as batch_size and schedule.batch_size).")
        }
        let typo = try write("typo.toml", "[schedule]\nbatchsize = 16\n")
        XCTAssertThrowsError(try ConfigLoader.load(typo)) {
            XCTAssertTrue("\($0)".hasPrefix("unknown field 'schedule.batchsize' in \(typo) (did you mean 'schedule.batch_size'?); known fields: schedule.epochs, "), "\($0)")
        }
        let range = try write("range.yaml", "schedule:\n  epochs: 0\n")
        XCTAssertThrowsError(try ConfigLoader.load(range)) {
            XCTAssertEqual("\($0)", "field 'epochs' in \(range) must be between 1 and 10000, got 0.")
        }
    }
}
