import Foundation
import TestSupport
import XCTest
@testable import RunFiles

final class AtomicFileTests: XCTestCase {
    private func listing(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    func testWritesAndReplacesWithoutLeavingTemporaries() throws {
        let directory = try makeTemporaryDirectory(self)
        let path = directory + "/config.json"
        try AtomicFile.write(Data("first".utf8), to: path)
        XCTAssertEqual(try AtomicFile.read(path), Data("first".utf8))
        try AtomicFile.write(Data("second, longer".utf8), to: path)
        XCTAssertEqual(try AtomicFile.read(path), Data("second, longer".utf8))
        try AtomicFile.write(Data(), to: path)
        XCTAssertEqual(try AtomicFile.read(path), Data())
        XCTAssertEqual(try listing(directory), ["config.json"])
    }

    func testRelativePathInCurrentDirectory() throws {
        let directory = try makeTemporaryDirectory(self)
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(directory))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        try AtomicFile.write(Data("x".utf8), to: "relative.txt")
        XCTAssertEqual(try listing(directory), ["relative.txt"])
    }

    /// rename(2) refuses to replace a non-empty directory: the error names the path and the OS
    /// reason, the directory and its contents stay, and no temporary is left behind.
    func testTargetIsDirectoryFailsCleanly() throws {
        let directory = try makeTemporaryDirectory(self)
        let target = directory + "/results"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        try AtomicFile.write(Data("keep".utf8), to: target + "/old.txt")
        XCTAssertThrowsError(try AtomicFile.write(Data("new".utf8), to: target)) { error in
            let text = "\(error)"
            XCTAssertTrue(error is FileError)
            XCTAssertTrue(text.hasPrefix("cannot write '\(target)': renaming the temporary file over it failed: "), text)
            XCTAssertTrue(text.contains("Is a directory") || text.contains("Directory not empty"), text)
        }
        XCTAssertEqual(try listing(directory), ["results"])
        XCTAssertEqual(try AtomicFile.read(target + "/old.txt"), Data("keep".utf8))
    }

    func testMissingDirectoryNamesPathAndReason() throws {
        let path = try makeTemporaryDirectory(self) + "/no/such/dir/file.bin"
        XCTAssertThrowsError(try AtomicFile.write(Data([1]), to: path)) { error in
            XCTAssertEqual("\(error)", "cannot write '\(path)': creating a temporary file failed: No such file or directory.")
        }
    }

    /// A read-only directory: the old file is untouched and nothing is left behind. Root ignores
    /// directory permissions, so there the test cannot provoke the failure and is skipped.
    func testReadOnlyDirectoryKeepsOldFile() throws {
        try XCTSkipIf(geteuid() == 0, "running as root: permissions are not enforced")
        let directory = try makeTemporaryDirectory(self)
        let path = directory + "/summary.json"
        try AtomicFile.write(Data("old".utf8), to: path)
        XCTAssertEqual(chmod(directory, 0o555), 0)
        XCTAssertThrowsError(try AtomicFile.write(Data("new".utf8), to: path)) { error in
            XCTAssertTrue("\(error)".contains("Permission denied"), "\(error)")
        }
        XCTAssertEqual(try AtomicFile.read(path), Data("old".utf8))
        XCTAssertEqual(try listing(directory), ["summary.json"])
    }

    /// Reading a directory as a file is refused with a sentence, not an empty result.
    func testReadOfDirectoryIsAnError() throws {
        let directory = try makeTemporaryDirectory(self)
        XCTAssertThrowsError(try AtomicFile.read(directory)) { error in
            XCTAssertEqual("\(error)", "cannot read '\(directory)': it is not a regular file.")
        }
    }
}
