import Foundation
import XCTest
@testable import Training

/// A sweep's numbers do not depend on `--jobs` (which sets the threads each run gets), nor a
/// run's on `--threads` across a resume.
extension CLITests {
    func finalBytes(_ dir: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for run in try FileManager.default.contentsOfDirectory(atPath: dir) {
            let path = dir + "/" + run + "/final.safetensors"
            if let data = FileManager.default.contents(atPath: path) { files[run] = data }
        }
        return files
    }

    func testJobsOneAndTwoGiveIdenticalRuns() throws {
        let dir = try temporaryDirectory()
        let file = dir + "/grid.toml"
        try """
        dataset = "synthetic"
        synthetic_train = 256
        synthetic_test = 32
        model = "mlp"
        epochs = 1
        batch_size = 16

        [axes]
        algorithm = ["local", "minibatch"]
        workers = [1, 2]
        """.write(toFile: file, atomically: true, encoding: .utf8)
        for jobs in ["1", "2"] {
            let r = try run(["sweep", file, "--jobs", jobs, "--out", dir + "/jobs" + jobs])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let one = try finalBytes(dir + "/jobs1"), two = try finalBytes(dir + "/jobs2")
        XCTAssertEqual(one.count, 4)
        XCTAssertEqual(Set(one.keys), Set(two.keys))
        for (run, bytes) in one { XCTAssertEqual(two[run], bytes, "\(run): --jobs 1 (2 threads each) against --jobs 2 (1 thread)") }
    }

    func testResumeWithOtherThreadsIsBitwise() throws {
        let dir = try temporaryDirectory()
        let args = ["train", "--dataset", "synthetic", "--synthetic-train", "256", "--synthetic-test", "32", "--model", "mlp",
                    "--epochs", "2", "--batch-size", "16", "--checkpoint-every", "1e"]
        XCTAssertEqual(try run(args + ["--threads", "1", "--out", dir + "/whole"]).status, 0)
        XCTAssertEqual(try run(args + ["--threads", "1", "--out", dir + "/cut"]).status, 0)
        // Cut after the first epoch: keep its checkpoint only, as a run killed during epoch 2 would.
        let checkpoints = dir + "/cut/checkpoints"
        for name in try FileManager.default.contentsOfDirectory(atPath: checkpoints).sorted().dropFirst() {
            try FileManager.default.removeItem(atPath: checkpoints + "/" + name)
        }
        for name in ["summary.json", "final.safetensors"] { try FileManager.default.removeItem(atPath: dir + "/cut/" + name) }
        let resumed = try run(args + ["--threads", "2", "--resume", dir + "/cut"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/cut/final.safetensors"),
                       FileManager.default.contents(atPath: dir + "/whole/final.safetensors"))
    }
}
