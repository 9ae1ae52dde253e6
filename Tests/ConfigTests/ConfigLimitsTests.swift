import Foundation
import RunFiles
import TestSupport
import XCTest
@testable import Config

/// Hostile config files (found by a hostile tester against Yams 5.0.1 and toml++, and by the fuzz targets) give one
/// sentence naming the file, quickly, instead of a trap, a stack overflow or minutes of work.
final class ConfigLimitsTests: XCTestCase {
    private func write(_ name: String, _ contents: String) throws -> String {
        let path = try makeTemporaryDirectory(self) + "/" + name
        try AtomicFile.write(Data(contents.utf8), to: path)
        return path
    }

    /// Parses `contents` as file `name`, expecting a ConfigError naming it and containing
    /// `phrase`, within `seconds` of this thread's CPU time (generous: a debug build).
    private func assertRefused(_ name: String, _ contents: String, _ phrase: String, seconds: Double = 1,
                               line: UInt = #line) {
        do {
            let path = try write(name, contents)
            let (cpuSeconds, outcome) = threadCPUSeconds { Result { try ConfigLoader.parseFile(path) } }
            XCTAssertThrowsError(try outcome.get(), line: line) { error in
                XCTAssertTrue(error is ConfigError || error is FileError, "\(type(of: error))", line: line)
                XCTAssertTrue("\(error)".contains(path), "'\(error)' does not name the file", line: line)
                XCTAssertTrue("\(error)".contains(phrase), "'\(error)' lacks '\(phrase)'", line: line)
            }
            XCTAssertLessThan(cpuSeconds, seconds, line: line)
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

    /// The limit is exact and the same in every format: the top table is level 1, every list or
    /// table inside adds one, scalars add none; 32 levels read, 33 are refused.
    func testNestingOfExactlyThirtyTwoLevelsIsReadInEveryFormat() throws {
        func lists(_ n: Int) -> String { String(repeating: "[", count: n) + "1" + String(repeating: "]", count: n) }
        func depth(_ value: Any?) -> Int {
            switch value {
            case let list as [Any]: return 1 + depth(list.first)
            case let table as [String: Any]: return 1 + depth(table.values.first)
            default: return 0
            }
        }
        let keys = { (n: Int) in Array(repeating: "a", count: n).joined(separator: ".") }
        let inline = { (n: Int) in "x = " + String(repeating: "{a = ", count: n) + "1" + String(repeating: "}", count: n) + "\n" }
        let yamlTables = { (n: Int) in (0..<n + 1).map { String(repeating: " ", count: $0) + "a:" }.joined(separator: "\n") + " 1\n" }
        let readable: [(String, String)] = [("lists.yaml", "x: \(lists(31))\n"), ("lists.json", "{\"x\": \(lists(31))}"),
                                            ("lists.toml", "x = \(lists(31))\n"), ("inline.toml", inline(31)),
                                            ("header.toml", "[\(keys(31))]\nx = 1\n"), ("dotted.toml", keys(32) + " = 1\n"),
                                            ("tables.yaml", yamlTables(31))]
        for (name, text) in readable {
            let table = try ConfigLoader.parseFile(try write(name, text))
            XCTAssertEqual(depth(table), 32, name)
        }
        for (name, text) in [("lists.yaml", "x: \(lists(32))\n"), ("lists.json", "{\"x\": \(lists(32))}"),
                             ("lists.toml", "x = \(lists(32))\n"), ("inline.toml", inline(32)),
                             ("header.toml", "[\(keys(32))]\nx = 1\n"), ("dotted.toml", keys(33) + " = 1\n"),
                             ("tables.yaml", yamlTables(32))] {
            assertRefused(name, text, "deeper than 32 levels")
        }
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

    /// The value limit holds in every format, not only where YAML aliases multiply them: with the
    /// top table and the list itself, 99,998 numbers make 100,000 values and read; 99,999 do not.
    func testMoreThanOneHundredThousandValuesAreRefusedInEveryFormat() throws {
        func list(_ n: Int) -> String { "[" + Array(repeating: "1", count: n).joined(separator: ",") + "]" }
        // The top table and the list are values too.
        for (name, text) in [("v.json", { #"{"x": \#(list($0))}"# }), ("v.toml", { "x = \(list($0))\n" }),
                             ("v.yaml", { "x: \(list($0))\n" })] as [(String, (Int) -> String)] {
            let table = try ConfigLoader.parseFile(try write(name, text(ConfigLimits.maxValues - 2)))
            XCTAssertEqual((table["x"] as? [Any])?.count, ConfigLimits.maxValues - 2, name)
            assertRefused(name, text(ConfigLimits.maxValues - 1), "more than 100000 values", seconds: 5)
        }
    }

    /// A key of half a megabyte is refused by its length, quoting 40 characters (it took 8 s of
    /// "did you mean" distances and printed itself whole).
    func testKeysLongerThanAnyNameAreRefusedShortly() {
        let key = String(repeating: "A", count: 500_000)
        // libyaml itself refuses implicit keys over 1024 characters ("mapping values are not
        // allowed"); an explicit key (`? KEY`) reaches the limit.
        let yamlKey = String(repeating: "A", count: 300)
        for (name, text, length) in [("k.toml", key + " = 1\n", 500_000), ("q.toml", "\"\(key)\" = 1\n", 500_000),
                                     ("k.yaml", yamlKey + ": 1\n", 300), ("q.yaml", "? \(key)\n: 1\n", 500_000),
                                     ("k.json", #"{"\#(key)": 1}"#, 500_000)] {
            assertRefused(name, text, "has a key of \(length) characters ('\(key.prefix(40))…'), more than the 256 a name may have",
                          seconds: 3)
            XCTAssertThrowsError(try ConfigLoader.parseFile(try write(name, text))) { error in
                XCTAssertLessThan("\(error)".utf8.count, 400, name)
            }
        }
        XCTAssertEqual(ConfigLoader.didYouMean("batchsize", among: RunConfig.fieldNames), " (did you mean 'batch_size'?)")
    }

    /// Control characters in keys and values are written out in errors: one line, no terminal codes.
    func testControlCharactersInErrorsAreWrittenOut() throws {
        for (name, text) in [("c.toml", "epochs = \"a\\nb\\r\\u001b[31mRED\"\n"), ("c.json", #"{"epochs": "a\nb\r\u001b[31mRED"}"#)] {
            XCTAssertThrowsError(try ConfigLoader.load(try write(name, text))) { error in
                XCTAssertTrue("\(error)".contains(#"expected an integer, got 'a\nb\r\u{1B}[31mRED'"#), "\(error)")
                XCTAssertFalse("\(error)".unicodeScalars.contains { $0.properties.generalCategory == .control }, "\(error)")
            }
        }
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

    /// What toml++ 3 trapped on (found by `fuzz-toml`; `[#]` aborted `localsgd train --config`):
    /// the TOML reader gives its sentence with the line, for the whole kind of input.
    func testMalformedTOMLThatTrappedTomlPlusPlusIsASentence() throws {
        let cases = [("[#]", 1, "expected a key (a letter, digit, '_', '-' or a quoted name), found '#'"),
                     ("[$", 1, "expected a key"), ("[[#", 1, "expected a key"), ("[[[a]]]", 1, "expected a key"),
                     ("[ \t@x]", 1, "found '@'"), ("[\u{3000}a]", 1, "found '\u{3000}'"), ("[\n", 1, "found the end of the line"),
                     ("x = 1\n\n [ %]", 3, "found '%'"), ("x = [}", 1, "expected a value for 'x', found '}'"),
                     ("x = [1,}", 1, "found '}'"), ("x = [ # c\n}", 2, "found '}'"),
                     ("x = [1,\u{2028} 2]", 1, "found '\u{2028}'"), ("x = [1,\u{85}2]", 1, #"found '\u{85}'"#),
                     ("[#del[gr2 \"o{", 1, "found '#'"), ("[]", 1, "found ']'"), ("[ [a]]", 1, "found '['"), ("[", 1, "the end of the file"),
                     ("a = 1\na = 2", 2, "the key 'a' is given twice"), ("[t]\n[t]", 2, "table 't' is defined twice"),
                     ("x = {a = 1}\n[x.b]", 2, "'x' is already a value"), ("x = \"a\\qb\"", 1, "'\\q' is no escape"),
                     ("x = \"\\uD800\"", 1, "hex digits of a Unicode scalar value"), ("x = 1_", 1, "'1_' for 'x' is no TOML value"),
                     ("x = 012", 1, "is no TOML value"), ("x = 99999999999999999999", 1, "is no TOML value"), ("x = 1\ry = 2", 1, "carriage return")]
        for (text, line, phrase) in cases {
            assertRefused("bad.toml", text, "is not valid TOML at line \(line): ")
            assertRefused("bad.toml", text, phrase)
        }
    }

    /// TOML 1.0 as config and sweep files write it reads as before.
    func testTOMLValuesOfEveryKindRead() throws {
        let text = #"""
        # comment
        int = +1_000
        hex = 0xff
        bin = 0b101 # comment
        float = -2.5e-3
        strings = ["a\tb\u00e9\U0001F600", 'C:\x', """
        one ""\
          two"""", '''
        raw ''\n''']
        "quoted key".'lit'.bare-key = true
        inline = { a = 1, b.c = [ {d = false} ] }
        [table . sub]
        x = 0.5
        [[list]]
        y = 1
        [[list]]
        y = 2
        [table]
        z = 1e3
        """#
        let table = try ConfigLoader.parseFile(try write("all.toml", "\u{FEFF}" + text))
        XCTAssertEqual(table["int"] as? Int, 1000)
        XCTAssertEqual(table["hex"] as? Int, 255)
        XCTAssertEqual(table["bin"] as? Int, 5)
        XCTAssertEqual(table["float"] as? Double, -2.5e-3)
        XCTAssertEqual(table["strings"] as? [String], ["a\tb\u{e9}\u{1F600}", "C:\\x", "one \"\"two\"", "raw ''\\n"])
        XCTAssertEqual(((table["quoted key"] as? [String: Any])?["lit"] as? [String: Any])?["bare_key"] as? Bool, true)
        let inline = table["inline"] as? [String: Any]
        XCTAssertEqual(inline?["a"] as? Int, 1)
        XCTAssertEqual((((inline?["b"] as? [String: Any])?["c"] as? [Any])?.first as? [String: Any])?["d"] as? Bool, false)
        let sub = (table["table"] as? [String: Any])?["sub"] as? [String: Any]
        XCTAssertEqual(sub?["x"] as? Double, 0.5)
        XCTAssertEqual((table["table"] as? [String: Any])?["z"] as? Double, 1000)
        assertRefused("inf.toml", "lr = -inf\n", "field 'lr' in")
        assertRefused("inf.toml", "lr = nan\n", "expected a finite number")
        XCTAssertEqual((table["list"] as? [[String: Any]])?.map { $0["y"] as? Int }, [1, 2])
    }
}
