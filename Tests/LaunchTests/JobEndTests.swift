import Launch
import XCTest

/// How a job ended, from mpirun's exit status and output as Open MPI 4.1 prints them.
final class JobEndTests: XCTestCase {
    func end(_ output: String, exitCode: Int32, signal: Int32? = nil) -> JobEnd {
        var watch = JobOutputWatch()
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) { watch.observe(String(line)) }
        return watch.end(exitCode: exitCode, signal: signal)
    }

    static let killed = """
        --------------------------------------------------------------------------
        Primary job  terminated normally, but 1 process returned
        a non-zero exit code. Per user-direction, the job has been aborted.
        --------------------------------------------------------------------------
        --------------------------------------------------------------------------
        mpirun noticed that process rank 1 with PID 4716 on node nodeb exited on signal 9 (Killed).
        --------------------------------------------------------------------------
        """

    func testARankKilledByASignal() {
        let e = end(Self.killed, exitCode: 137)
        XCTAssertEqual(e, .rankDied(rank: 1, node: "nodeb", signal: 9, exitCode: 137))
        XCTAssertTrue(e.isRetryable)
        XCTAssertEqual(e.cause, "rank 1 was killed by signal 9")
    }

    func testACollectiveTimeout() {
        let output = """
            error: localsgd: rank 0 waited 3.1 s in MPI_Allgather (1 integers), longer than the collective timeout of 3.0 s; another rank has probably hung or lost its connection. Aborting the MPI job.
            MPI_ABORT was invoked on rank 0 in communicator MPI_COMM_WORLD
            with errorcode 124.
            """
        XCTAssertEqual(end(output, exitCode: 124), .collectiveTimeout(rank: 0))
        XCTAssertEqual(end("", exitCode: 124), .collectiveTimeout(rank: nil), "exit code 124 alone")
    }

    func testAnErrorOfTheRunIsNotRetried() {
        let output = """
            localsgd: error: Fashion-MNIST directory /nonexist does not exist; install it with `apt-get install dataset-fashion-mnist`, or pass --data-dir with a directory holding the four IDX files.
            --------------------------------------------------------------------------
            mpirun detected that one or more processes exited with non-zero status, thus causing
            the job to be terminated. The first process to do so was:

              Process name: [[5331,1],0]
              Exit code:    1
            --------------------------------------------------------------------------
            """
        let e = end(output, exitCode: 1)
        guard case .runError(let rank, let message) = e else { return XCTFail("\(e)") }
        XCTAssertEqual(rank, 0)
        XCTAssertTrue(message.hasPrefix("Fashion-MNIST directory /nonexist does not exist"), message)
        XCTAssertFalse(e.isRetryable)
    }

    func testAFailedMPICallIsTheNetworkNotTheRun() {
        let output = "localsgd: error: MPI_Allreduce failed: MPI_ERR_OTHER: known error not in list (MPI error code 16, class 16)."
        XCTAssertTrue(end(output, exitCode: 1).isRetryable)
    }

    func testARankThatExitsWithoutAMessageAndADaemonThatCannotStart() {
        let silent = """
              Process name: [[5331,1],1]
              Exit code:    3
            """
        XCTAssertEqual(end(silent, exitCode: 3), .rankDied(rank: 1, node: nil, signal: nil, exitCode: 3))
        let daemons = "ORTE was unable to reliably start one or more daemons.\nThis usually is caused by:"
        XCTAssertEqual(end(daemons, exitCode: 255), .failed(exitCode: 255, signal: nil, message: "mpirun could not start its daemon on every host"))
        XCTAssertEqual(end("", exitCode: 0), .succeeded)
        XCTAssertEqual(end("", exitCode: 137, signal: 9), .failed(exitCode: 137, signal: 9, message: nil))
    }

    func testAStopWinsOverEverything() {
        var watch = JobOutputWatch()
        watch.observe("mpirun noticed that process rank 1 with PID 4716 on node nodeb exited on signal 15 (Terminated).")
        XCTAssertEqual(watch.end(exitCode: 143, signal: nil, stoppedBy: 15), .stopped(signal: 15))
    }
}
