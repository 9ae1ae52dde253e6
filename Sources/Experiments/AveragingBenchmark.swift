import Comm
import Foundation
import Tensor

/// The in-process average of K replicas' flat buffers (`InProcessCommunicator.allReduceMean`,
/// as local SGD runs it) against the memory bandwidth measured in the same run: a copy of the
/// same number of bytes (K buffers read, K written, as the average reads and writes each once).
public struct AveragingBenchmark {
    public struct Row: Encodable {
        public var parameters: Int
        public var workers: Int
        public var threads: Int
        /// Median seconds of one all-reduce mean over the K buffers.
        public var averageSeconds: Double
        /// Median seconds of copying K buffers of the same size into K others.
        public var copySeconds: Double
        /// Bytes read plus bytes written by either: 2·K·parameters·4.
        public var bytes: Double { 2 * Double(workers) * Double(parameters) * 4 }
        public var averageGBPerSecond: Double { bytes / averageSeconds / 1e9 }
        public var copyGBPerSecond: Double { bytes / copySeconds / 1e9 }
        /// The average's share of the copy's bandwidth.
        public var ofBandwidth: Double { copySeconds / averageSeconds }

        enum CodingKeys: String, CodingKey {
            case parameters, workers, threads
            case averageMs = "average_ms", copyMs = "copy_ms", averageGBPerSecond = "average_gb_per_s"
            case copyGBPerSecond = "copy_gb_per_s", ofBandwidth = "of_bandwidth"
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(parameters, forKey: .parameters)
            try c.encode(workers, forKey: .workers)
            try c.encode(threads, forKey: .threads)
            try c.encode(averageSeconds * 1e3, forKey: .averageMs)
            try c.encode(copySeconds * 1e3, forKey: .copyMs)
            try c.encode(averageGBPerSecond, forKey: .averageGBPerSecond)
            try c.encode(copyGBPerSecond, forKey: .copyGBPerSecond)
            try c.encode(ofBandwidth, forKey: .ofBandwidth)
        }
    }

    /// Times `repeats` averages and as many copies, alternating, after one untimed round of each
    /// (page faults). The buffers hold finite values that averaging keeps finite.
    public static func measure(parameters n: Int, workers k: Int, threads: Int, repeats: Int) throws -> Row {
        let buffers = (0..<k).map { w -> FloatBuffer in
            let b = FloatBuffer(count: n)
            b.pointer.update(repeating: Float(w + 1), count: n)
            return b
        }
        let targets = (0..<k).map { _ in FloatBuffer(count: n) }
        let comm = InProcessCommunicator(workers: k, threads: threads)
        let pool = ThreadPool(threads: threads)
        let pointers = buffers.map(\.pointer)
        let sources = UncheckedSendable(pointers), destinations = UncheckedSendable(targets.map(\.pointer))
        func copy() {
            // The same split over threads as the average: each lane a contiguous range of every buffer.
            pool.runChunks(n) { range in
                for w in 0..<k {
                    (destinations.value[w] + range.lowerBound).update(from: sources.value[w] + range.lowerBound, count: range.count)
                }
            }
        }
        try comm.allReduceMean(pointers, count: n)
        copy()
        var average: [Double] = [], copies: [Double] = []
        for _ in 0..<repeats {
            var t = DispatchTime.now().uptimeNanoseconds
            try comm.allReduceMean(pointers, count: n)
            average.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
            t = DispatchTime.now().uptimeNanoseconds
            copy()
            copies.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
        }
        withExtendedLifetime((buffers, targets)) {}
        return Row(parameters: n, workers: k, threads: threads,
                   averageSeconds: StepRunner.median(average), copySeconds: StepRunner.median(copies))
    }
}
