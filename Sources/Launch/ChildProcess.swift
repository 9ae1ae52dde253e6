import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process in a process group of its own, its stdout and stderr read line by line on
/// background threads. Its own group keeps a terminal's Ctrl-C from reaching mpirun before
/// launch decides what to do; launch ends it through `terminate`.
///
/// Open MPI puts every rank in a process group of its own, and a rank that mpirun could not end
/// (a stopped one, after a collective timeout) outlives mpirun; the process therefore records
/// its descendants while it runs (`ProcessTree`) and `killLeftovers` ends those still alive.
public final class ChildProcess: @unchecked Sendable {
    public enum Stream: Sendable { case stdout, stderr }

    public let pid: pid_t
    private static let spawnLock = NSLock()
    private let readers = DispatchGroup()
    private let lock = NSLock()
    private var stopReading = false
    private var descendants: [pid_t: UInt64] = [:]
    private var exit: (code: Int32, signal: Int32?)?
    private var tracker: DispatchSourceTimer?
    /// The write end of the child's standard input (with `input: true`), until `closeInput`.
    private var inputDescriptor: Int32 = -1

    /// Starts `path` with `arguments` (argv[0] is `path`); `environment` replaces the inherited one
    /// when given. `onLine` receives every line without its newline, from the reader threads, one
    /// call at a time (a line longer than 1 MiB in pieces of about 1 MiB); `onEnd`, each stream's end.
    /// The child reads /dev/null, or with `input` a pipe that `writeInput` feeds.
    public init(_ path: String, _ arguments: [String], environment: [String: String]? = nil, input: Bool = false,
                onLine: @escaping @Sendable (Stream, String) -> Void, onEnd: (@Sendable (Stream) -> Void)? = nil) throws {
        // One spawn at a time, so that no other child inherits these pipes before they are close-on-exec.
        ChildProcess.spawnLock.lock()
        defer { ChildProcess.spawnLock.unlock() }
        var out: [Int32] = [-1, -1], err: [Int32] = [-1, -1], stdin: [Int32] = [-1, -1]
        func fail() -> LaunchError {
            let reason = String(cString: strerror(errno))
            for fd in out + err + stdin where fd >= 0 { close(fd) }
            return LaunchError("cannot create a pipe for \(path): \(reason)")
        }
        guard pipe(&out) == 0 else { out = [-1, -1]; throw fail() }
        guard pipe(&err) == 0 else { err = [-1, -1]; throw fail() }
        if input { guard pipe(&stdin) == 0 else { stdin = [-1, -1]; throw fail() } }
        for fd in out + err + stdin where fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input {
            posix_spawn_file_actions_adddup2(&actions, stdin[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Own group, default signal handling (launch ignores SIGINT/SIGTERM itself), nothing blocked.
        var defaults = sigset_t(), empty = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE, SIGHUP] { sigaddset(&defaults, s) }
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let env = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            argv.forEach { free($0) }
            env?.forEach { free($0) }
        }
        var child: pid_t = 0
        let status = env.map { posix_spawn(&child, path, &actions, &attributes, argv, $0) }
            ?? posix_spawn(&child, path, &actions, &attributes, argv, environ)
        close(out[1])
        close(err[1])
        if input { close(stdin[0]) }
        guard status == 0 else {
            close(out[0])
            close(err[0])
            if input { close(stdin[1]) }
            throw LaunchError("cannot start \(path): \(String(cString: strerror(status)))")
        }
        pid = child
        inputDescriptor = stdin[1]
        let lineLock = NSLock()
        let deliver: @Sendable (Stream, String) -> Void = { stream, line in
            lineLock.lock()
            onLine(stream, line)
            lineLock.unlock()
        }
        startReading(out[0], .stdout, deliver, onEnd)
        startReading(err[0], .stderr, deliver, onEnd)
        track()
    }

    deinit {
        tracker?.cancel()
        closeInput()
    }

    /// Writes `data` to the child's standard input (`input: true`); throws when the child does
    /// not read it any more (it closed it or exited). SIGPIPE is ignored during the write only,
    /// so the caller gets the error instead of dying of it.
    public func writeInput(_ data: Data) throws {
        let fd = lock.withLock { inputDescriptor }
        guard fd >= 0 else { throw LaunchError("the standard input of process \(pid) is closed") }
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw LaunchError("cannot write to process \(pid): \(String(cString: strerror(errno)))") }
                offset += n
            }
        }
    }

    /// Closes the child's standard input (it reads its end); nothing without `input`.
    public func closeInput() {
        let fd = lock.withLock { () -> Int32 in
            defer { inputDescriptor = -1 }
            return inputDescriptor
        }
        if fd >= 0 { close(fd) }
    }

    /// The exit code and signal if the process has ended (reaping it), else nil; never waits.
    public func exitIfEnded() -> (code: Int32, signal: Int32?)? {
        if let done = lock.withLock({ exit }) { return done }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        return recordExit(status)
    }

    /// The exit code and signal if the process ends within `seconds` (polled), else nil: unlike
    /// `wait(timeout:)` it leaves a process that goes on running alone.
    public func waitForExit(within seconds: Double) -> (code: Int32, signal: Int32?)? {
        let deadline = Date().addingTimeInterval(seconds)
        var end = exitIfEnded()
        while end == nil && Date() < deadline {
            usleep(10_000)
            end = exitIfEnded()
        }
        return end
    }

    /// Reads `fd` to its end (or until reading stops) on a thread of its own, then closes it.
    private func startReading(_ fd: Int32, _ stream: Stream, _ deliver: @escaping @Sendable (Stream, String) -> Void,
                              _ onEnd: (@Sendable (Stream) -> Void)?) {
        readers.enter()
        let thread = Thread { [self] in
            var pending: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 65536)
            var afterPiece = false  // the last delivery was a piece of a long line: its end adds no empty line
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while true {
                if poll(&poller, 1, 200) == 0 {
                    if lock.withLock({ stopReading }) { break }
                    continue
                }
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                let searchFrom = pending.count
                pending.append(contentsOf: buffer[0..<n])
                var start = 0
                while let newline = pending[max(start, searchFrom)...].firstIndex(of: 10) {
                    if !(afterPiece && newline == start) { deliver(stream, String(decoding: pending[start..<newline], as: UTF8.self)) }
                    afterPiece = false
                    start = newline + 1
                }
                pending.removeSubrange(0..<start)
                // A line without end (a child writing on and on) is delivered in pieces of about
                // 1 MiB, cut between UTF-8 characters, not kept whole.
                while pending.count > 1 << 20 {
                    var cut = 1 << 20
                    while cut > 0 && pending[cut] & 0xC0 == 0x80 { cut -= 1 }
                    if cut == 0 { cut = 1 << 20 }
                    deliver(stream, String(decoding: pending[0..<cut], as: UTF8.self))
                    pending.removeSubrange(0..<cut)
                    afterPiece = true
                }
            }
            if !pending.isEmpty { deliver(stream, String(decoding: pending, as: UTF8.self)) }
            close(fd)
            onEnd?(stream)
            readers.leave()
        }
        thread.start()
    }

    /// Records this process's descendants twice a second while it runs.
    private func track() {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "Launch.ChildProcess.track"))
        timer.schedule(deadline: .now() + 0.2, repeating: 0.5)
        timer.setEventHandler { [weak self] in self?.recordDescendants() }
        timer.resume()
        tracker = timer
    }

    private func recordDescendants() {
        let found = ProcessTree.descendants(of: pid)
        lock.withLock { descendants.merge(found) { $1 } }
    }

    /// Waits for the process to end; with `timeout`, kills its group after that many seconds.
    /// Returns its exit code, and the signal that ended it if one did.
    @discardableResult
    public func wait(timeout: Double? = nil) -> (code: Int32, signal: Int32?) {
        if let done = lock.withLock({ exit }) { return done }
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        var status: Int32 = 0
        var reaped = false
        while true {
            let r = waitpid(pid, &status, deadline == nil ? 0 : WNOHANG)
            if r == pid { reaped = true; break }
            if r < 0 && errno != EINTR { break }
            if let deadline, Date() >= deadline {
                terminate(grace: 0)
                reaped = waitpid(pid, &status, 0) == pid
                break
            }
            if r == 0 { usleep(20_000) }
        }
        // Reaped elsewhere (`exitIfEnded` on another thread): what that call recorded.
        if !reaped, let done = lock.withLock({ exit }) { return done }
        return recordExit(status)
    }

    /// The exit code and signal of a wait status, kept for later calls.
    private func recordExit(_ status: Int32) -> (code: Int32, signal: Int32?) {
        tracker?.cancel()
        // WIFEXITED / WTERMSIG are macros Swift does not import.
        let signal = status & 0x7f
        let result: (code: Int32, signal: Int32?) = signal == 0 ? ((status >> 8) & 0xff, nil) : (128 + signal, signal)
        lock.withLock { exit = result }
        return result
    }

    /// Sends `signal` to the process's group (mpirun and what shares its group).
    public func signalGroup(_ signal: Int32) { kill(-pid, signal) }

    /// SIGTERM to the group, then after `grace` seconds SIGKILL to the group and every recorded
    /// descendant. Returns at once when `grace` is 0 after the kills, else after the grace period.
    public func terminate(grace: Double) {
        if grace > 0 {
            recordDescendants()
            signalGroup(SIGTERM)
            let deadline = Date().addingTimeInterval(grace)
            while Date() < deadline, lock.withLock({ exit }) == nil, kill(pid, 0) == 0, !isZombie(pid) { usleep(50_000) }
        }
        recordDescendants()
        signalGroup(SIGKILL)
        killLeftovers()
    }

    private func isZombie(_ pid: pid_t) -> Bool { ProcessTree.state(of: pid) == "Z" }

    /// Kills every recorded descendant still alive (the same process: its start time matches),
    /// waking stopped ones so the kill takes effect at once. Returns how many it killed.
    @discardableResult
    public func killLeftovers() -> Int {
        let recorded = lock.withLock { descendants }
        var killed = 0
        for (p, start) in recorded where ProcessTree.startTime(of: p) == start {
            kill(p, SIGKILL)
            kill(p, SIGCONT)
            killed += 1
        }
        return killed
    }

    /// Waits up to `timeout` seconds for the output readers to reach the end of both streams, then
    /// stops them (a process that outlived this one may still hold a pipe open).
    public func finishReading(timeout: Double) {
        if readers.wait(timeout: .now() + timeout) == .timedOut {
            lock.withLock { stopReading = true }
            readers.wait()
        }
    }
}

/// Processes as /proc shows them.
public enum ProcessTree {
    /// The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses).
    static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
              let close = data.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        return String(decoding: data[(close + 1)...], as: UTF8.self).split(separator: " ")
    }

    /// The process's state letter (R, S, T, Z, ...).
    public static func state(of pid: pid_t) -> String? { statFields(pid).map { String($0[0]) } }

    /// Start time in clock ticks since boot (field 22), which tells a process from a later one
    /// with the same pid.
    public static func startTime(of pid: pid_t) -> UInt64? {
        guard let f = statFields(pid), f.count > 19 else { return nil }
        return UInt64(f[19])
    }

    /// Every live descendant of `root` with its start time.
    public static func descendants(of root: pid_t) -> [pid_t: UInt64] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var parent: [pid_t: pid_t] = [:], start: [pid_t: UInt64] = [:]
        for name in names {
            guard let pid = pid_t(name), let f = statFields(pid), f.count > 19, let ppid = pid_t(f[1]) else { continue }
            parent[pid] = ppid
            start[pid] = UInt64(f[19])
        }
        var children: [pid_t: [pid_t]] = [:]
        for (p, pp) in parent { children[pp, default: []].append(p) }
        var found: [pid_t: UInt64] = [:], queue = children[root] ?? []
        while let p = queue.popLast() {
            found[p] = start[p]
            queue += children[p] ?? []
        }
        return found
    }
}
