import XCTest

/// Asserts |a − e| ≤ absolute + relative·|e| element-wise, reporting the worst index.
public func assertClose(
    _ actual: [Float], _ expected: [Float], relative: Float = 1e-5, absolute: Float = 1e-6,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, "count mismatch \(message)", file: file, line: line)
    var worst = -1
    var worstExcess: Float = 0
    for i in 0..<min(actual.count, expected.count) {
        let tolerance = absolute + relative * abs(expected[i])
        let excess = abs(actual[i] - expected[i]) - tolerance
        if !(excess <= 0) && (worst < 0 || excess > worstExcess || excess.isNaN) {
            worst = i
            worstExcess = excess
        }
    }
    if worst >= 0 {
        XCTFail("not close at [\(worst)]: \(actual[worst]) vs expected \(expected[worst]) \(message)",
                file: file, line: line)
    }
}

public func assertClose(
    _ actual: Float, _ expected: Float, relative: Float = 1e-5, absolute: Float = 1e-6,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) {
    assertClose([actual], [expected], relative: relative, absolute: absolute, message, file: file, line: line)
}
