import Launch
import XCTest

final class CommandLineWordsTests: XCTestCase {
    func testRestartArgumentsLoseTheirOut() {
        let words = ["--workers", "2", "--out", "runs/a", "--quiet", "--out=runs/b", "--outer-lr", "0.7"]
        XCTAssertEqual(CommandLineWords.removing("--out", from: words), ["--workers", "2", "--quiet", "--outer-lr", "0.7"])
        XCTAssertTrue(CommandLineWords.contains("--out", in: ["--out=x"]))
        XCTAssertFalse(CommandLineWords.contains("--out", in: ["--outer-lr", "1"]))
    }

    func testMpirunArgumentsSplitLikeAShell() throws {
        XCTAssertEqual(try CommandLineWords.split(" --mca btl tcp,self  --bind-to none "), ["--mca", "btl", "tcp,self", "--bind-to", "none"])
        XCTAssertEqual(try CommandLineWords.split(#"-x "A=b c" 'd e' f\ g """#), ["-x", "A=b c", "d e", "f g", ""])
        XCTAssertEqual(try CommandLineWords.split(""), [])
        XCTAssertThrowsError(try CommandLineWords.split("'open"))
    }
}
