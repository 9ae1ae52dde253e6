import Foundation
import XCTest
@testable import Training

/// Hostile config files (found by a hostile tester against Yams 5.0.1 and toml++) give one
/// sentence naming the file, quickly, instead of a trap, a stack overflow or minutes of work.
final class ConfigLimitsTests: XCTestCase {
    private func write(_ name: String, _ contents: String) throws -> String {
        let path = try makeTemporaryDirectory(self) + "/" + name
        try AtomicFile.write(Data(contents.utf8), to: path)
        return path
    }

    /// Parses `contents` as file `name`, expecting a ConfigError naming it and containing
    /// `phrase`, within `seconds` (generous: debug build on a shared two-core machine).
    private func assertRefused(_ name: String, _ contents: String, _ phrase: String, seconds: Double = 1,
                               line: UInt = #line) {
        do {
            let path = try write(name, contents)
            let start = Date()
            XCTAssertThrowsError(try ConfigLoader.parseFile(path), line: line) { error in
                XCTAssertTrue(error is ConfigError || error is FileError, "\(type(of: error))", line: line)
                XCTAssertTrue("\(error)".contains(path), "'\(error)' does not name the file", line: line)
                XCTAssertTrue("\(error)".contains(phrase), "'\(error)' lacks '\(phrase)'", line: line)
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), seconds, line: line)
        } catch { XCTFail("\(error)", line: line) }
    }

    func testYAMLListAsAKeyIsRefused() {
        assertRefused("key.yaml", "? [1, 2]\n: 3\n", "has a list or table as a key; keys must be names (line 1)")
        assertRefused("key.yaml", "epochs: 2\n{a: 1}: 3\n", "keys must be names")
        assertRefused("key.yaml", "list: &l [1]\n*l : 3\n", "keys must be names")
    }

    func testDeepNestingIsRefusedInEveryFormat() {
        let depth = 5000
        assertRefused("deep.yaml", "a: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth),
                      "nests lists and tables deeper than 32 levels")
        let block = (0..<1000).map { String(repeating: " ", count: $0) + "a:" }.joined(separator: "\n") + " 1\n"
        assertRefused("block.yaml", block, "deeper than 32 levels")
        assertRefused("deep.json", "{\"a\": " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}",
                      "is not valid JSON")
        assertRefused("nested.json", "{\"a\": " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}",
                      "deeper than 32 levels")
        assertRefused("dotted.toml", Array(repeating: "a", count: 300_000).joined(separator: ".") + " = 1\n",
                      "deeper than 32 levels")
        assertRefused("header.toml", "[" + Array(repeating: "a", count: 40).joined(separator: ".") + "]\nx = 1\n",
                      "deeper than 32 levels")
        assertRefused("inline.toml", "x = " + String(repeating: "{a = ", count: 40) + "1" + String(repeating: "}", count: 40),
                      "deeper than 32 levels")
        assertRefused("array.toml", "x = " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000),
                      "deeper than 32 levels")
    }

    /// 300 bytes that Yams expanded for more than a minute and 1.4 GB.
    func testYAMLAliasBombIsRefused() {
        var lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        let names = "abcdefghi".map(String.init)
        for i in 1..<names.count {
            lines.append("\(names[i]): &\(names[i]) [" + Array(repeating: "*" + names[i - 1], count: 9).joined(separator: ", ") + "]")
        }
        let bomb = lines.joined(separator: "\n") + "\n"
        XCTAssertLessThan(bomb.utf8.count, 400)
        assertRefused("bomb.yaml", bomb, "expands to more than 100000 values")
    }

    func testFilesOverOneMebibyteAreRefusedUnread() {
        let big = "# " + String(repeating: "x", count: ConfigLimits.maxBytes) + "\nepochs = 1\n"
        assertRefused("big.toml", big, "more than the 1048576 allowed")
    }

    /// Yams' constructor overflowed on long sexagesimal integers (exit 132); they are strings now.
    func testScalarsThatTrappedYamsAreOrdinaryValues() throws {
        let path = try write("s.yaml", "epochs: 1:0:0:0:0:0:0:0:0:0:0:0\nseed: 99999999999999999999999\n")
        let table = try ConfigLoader.parseFile(path)
        XCTAssertEqual(table["epochs"] as? String, "1:0:0:0:0:0:0:0:0:0:0:0")
        XCTAssertEqual(table["seed"] as? Double, 1e23)
        XCTAssertThrowsError(try ConfigLoader.load(path)) { error in
            XCTAssertTrue("\(error)".contains("field 'epochs' in \(path): expected an integer"), "\(error)")
        }
    }

    /// What config files use keeps its meaning: anchors, merges, quoting, tags, YAML 1.1 words.
    func testOrdinaryYAMLFeaturesStillRead() throws {
        let path = try write("ok.yaml", """
        common: &common {epochs: 2, lr: 0.5}
        run:
          <<: *common
          lr: 0.25
          seed: 0x10
          network: "10gbit:50us"
          data_dir: !!str 123
          shuffle: off
          decay_epochs: [1, 0o7, 010]
          nothing: ~
        """)
        let table = try ConfigLoader.parseFile(path)
        let run = try XCTUnwrap(table["run"] as? [String: Any])
        XCTAssertEqual(run["epochs"] as? Int, 2)
        XCTAssertEqual(run["lr"] as? Double, 0.25, "explicit keys win over merged ones")
        XCTAssertEqual(run["seed"] as? Int, 16)
        XCTAssertEqual(run["network"] as? String, "10gbit:50us")
        XCTAssertEqual(run["data_dir"] as? String, "123")
        XCTAssertEqual(run["shuffle"] as? Bool, false)
        XCTAssertEqual(run["decay_epochs"] as? [Int], [1, 7, 8])
        XCTAssertTrue(run["nothing"] is NSNull)
        assertRefused("tag.yaml", "epochs: !!binary aGVsbG8=\n", "uses the tag tag:yaml.org,2002:binary")
        assertRefused("two.yaml", "epochs: 1\n---\nepochs: 2\n", "more than one YAML document")
        assertRefused("dup.yaml", "epochs: 1\nepochs: 2\n", "gives the key 'epochs' twice")
    }
}
