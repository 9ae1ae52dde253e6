import Foundation

/// CPU seconds the calling thread spent in `body`, with its result. Unlike wall-clock time it
/// does not grow when other processes load the machine, so a test can bound the work a parser
/// does on hostile input (a blow-up takes seconds to minutes) without failing on a busy host.
public func threadCPUSeconds<T>(_ body: () throws -> T) rethrows -> (seconds: Double, result: T) {
    func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
    let start = now()
    let result = try body()
    return (now() - start, result)
}
