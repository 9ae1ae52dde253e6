import Foundation
import XCTest
@testable import Experiments
import Training

/// Tiny synthetic sweeps (logistic regression on 64 samples) for the sweep and report tests.
enum Fixtures {
    static let base = """
    dataset = "synthetic"
    synthetic_train = 64
    synthetic_test = 32
    model = "logreg"
    epochs = 1
    batch_size = 8
    threads = 1

    """

    static func temporaryDirectory(_ test: XCTestCase) throws -> String {
        let path = NSTemporaryDirectory() + "localsgd-experiments-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Writes `text` to `directory/name` and loads it as a sweep.
    static func spec(_ text: String, in directory: String, name: String = "sweep.toml") throws -> SweepSpec {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try SweepSpec.load(path)
    }

    /// Every algorithm, K ∈ {1, 2, 4}, H ∈ {1, 2}, a switching point with both schedules and
    /// SlowMo and DiLoCo, two epochs, a network model: enough for every figure of the report.
    static let fullSweep = """
    dataset = "synthetic"
    synthetic_train = 64
    synthetic_test = 32
    model = "logreg"
    epochs = 2
    batch_size = 8
    threads = 1
    network = "10gbit:50us"

    [[include]]
    algorithm = "minibatch"
    workers = [1, 2, 4]
    lr_schedule = ["cosine", "step"]

    [[include]]
    algorithm = "local"
    workers = [2, 4]
    local_steps = [1, 2]
    lr_schedule = ["cosine", "step"]

    [[include]]
    algorithm = "post-local"
    workers = [2, 4]
    local_steps = 2
    switch_epoch = 1
    lr_schedule = ["cosine", "step"]

    [[include]]
    algorithm = "slowmo"
    workers = 4
    local_steps = 2

    [[include]]
    algorithm = "diloco"
    workers = 4
    local_steps = 2
    outer_optimizer = ["sgd", "nesterov"]
    """
}
