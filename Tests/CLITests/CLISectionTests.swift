import Config
import Foundation
import XCTest

/// The run flags come in one group per section of `RunConfig`, one flag per field of its table.
extension CLITests {
    func testHelpShowsEverySectionAndEveryFieldsFlag() throws {
        let help = try run(["train", "--help"]).stdout
        for title in ["DATA:", "MODEL:", "SCHEDULE:", "OPTIMIZER:", "ALGORITHM:", "ASYNCHRONOUS LOCAL SGD:", "EXECUTION:"] {
            XCTAssertTrue(help.contains("\n" + title + "\n"), "--help lacks the section \(title)")
        }
        for field in RunConfig.fields {
            let flag = field.name == "shuffle" ? "--no-shuffle" : field.flag
            XCTAssertTrue(help.contains(flag + " ") || help.contains(flag + "/") || help.contains(flag + "\n"), "--help lacks \(flag)")
        }
        let words = help.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(words.contains("L2 weight decay on all parameters, 0 to 1 (default 0.0005)."), "default from the section")
    }

    /// Flags, a file's sections and its flat names meet in one config.json; flags are applied
    /// through the table's key paths and checked against its ranges under their own names.
    func testFlagsOverSectionedConfigFile() throws {
        let dir = try temporaryDirectory()
        try "[data]\ndataset = \"synthetic\"\nsynthetic-train = 64\nsynthetic_test = 32\n[model]\nkind = \"logreg\"\n[schedule]\nepochs = 3\nbatch_size = 16\n"
            .write(toFile: dir + "/run.toml", atomically: true, encoding: .utf8)
        let r = try run(["train", "--config", dir + "/run.toml", "--epochs", "1", "--no-nesterov", "--out", dir + "/run", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run/config.json"))) as! [String: Any]
        XCTAssertEqual(config["epochs"] as? Int, 1, "flag wins over file")
        XCTAssertEqual(config["batch_size"] as? Int, 16, "file's section wins over default")
        XCTAssertEqual(config["model"] as? String, "logreg")
        XCTAssertEqual(config["nesterov"] as? Bool, false)
        let bad = try run(["train", "--config", dir + "/run.toml", "--lr", "1e300", "--out", dir + "/bad"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("localsgd: error: --lr must be greater than 0 and at most 1e+30, got 1e+300."), bad.stderr)
    }
}
