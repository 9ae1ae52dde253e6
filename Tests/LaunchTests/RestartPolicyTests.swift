import Launch
import XCTest

final class RestartPolicyTests: XCTestCase {}
