import Launch
import XCTest

/// Hosts and slots from --host and hostfiles, and the mpirun arguments of a job on some of them.
final class PlacementTests: XCTestCase {
    func testHostListsAndHostfiles() throws {
        XCTAssertEqual(try Placement.parseHostList("a:2,b, c:4"),
                       [HostSlots(name: "a", slots: 2), HostSlots(name: "b", slots: 1), HostSlots(name: "c", slots: 4)])
        XCTAssertThrowsError(try Placement.parseHostList("a:0"))
        XCTAssertThrowsError(try Placement.parseHostList("a,,b"))
        XCTAssertThrowsError(try Placement.parseHostList("a:2:3"))
        let file = """
            # two nodes
            node1 slots=2 max_slots=4
            node2   # one slot

            node1 slots=1
            """
        XCTAssertEqual(try Placement.parseHostfile(file, path: "hosts"), [HostSlots(name: "node1", slots: 3), HostSlots(name: "node2", slots: 1)])
        XCTAssertThrowsError(try Placement.parseHostfile("node1 slots=x", path: "hosts")) { error in
            XCTAssertEqual("\(error)", "hosts line 1: slots must be a positive number, got 'x'")
        }
        XCTAssertThrowsError(try Placement.parseHostfile("# nothing\n", path: "hosts"))
    }

    func testMpirunArguments() {
        let a = HostSlots(name: "a", slots: 2), b = HostSlots(name: "b", slots: 2)
        XCTAssertEqual(Placement.local(ranks: 4).mpirunArguments(ranks: 2, on: Placement.local(ranks: 4).hosts),
                       ["-np", "2", "--oversubscribe"])
        let list = Placement(source: .hostList, hosts: [a, b])
        XCTAssertEqual(list.mpirunArguments(ranks: 4, on: [a, b]), ["-np", "4", "--host", "a:2,b:2"])
        XCTAssertEqual(list.mpirunArguments(ranks: 2, on: [b]), ["-np", "2", "--host", "b:2"])
        let file = Placement(source: .hostfile("hosts"), hosts: [a, b])
        XCTAssertEqual(file.mpirunArguments(ranks: 4, on: [a, b]), ["-np", "4", "--hostfile", "hosts"], "passed through while whole")
        XCTAssertEqual(file.mpirunArguments(ranks: 2, on: [a]), ["-np", "2", "--host", "a:2"])
        XCTAssertEqual(list.probeArguments(b), ["-np", "1", "--host", "b:1"])
        XCTAssertEqual(Placement.local(ranks: 2).probeArguments(Placement.local(ranks: 2).hosts[0]), ["-np", "1"])
    }

    func testRanksOnHostsAndCapacity() {
        let a = HostSlots(name: "a", slots: 2), b = HostSlots(name: "b", slots: 1), c = HostSlots(name: "c", slots: 2)
        XCTAssertEqual((0..<6).map { Placement.host(ofRank: $0, on: [a, b, c]) }, ["a", "a", "b", "c", "c", nil])
        let p = Placement(source: .hostList, hosts: [a, b, c])
        XCTAssertEqual(p.capacity(of: [a, b, c], requested: 5), 5)
        XCTAssertEqual(p.capacity(of: [a, c], requested: 5), 4)
        XCTAssertEqual(p.capacity(of: [a, b, c], requested: 8), 8, "an oversubscribed job keeps its ranks while every host answers")
        XCTAssertEqual(p.capacity(of: [], requested: 5), 0)
        XCTAssertEqual(Placement.local(ranks: 4).capacity(of: Placement.local(ranks: 4).hosts, requested: 4), 4)
        XCTAssertEqual(Placement.local(ranks: 4).capacity(of: [], requested: 4), 0)
    }
}
