/// Per-channel input normalization, the study's "standard channel normalization" (§3, after
/// He et al.): pixel/255, then (x − mean[c]) / std[c], with mean and population standard
/// deviation computed on the training set only.
public struct Normalization: Codable, Equatable, Sendable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count, "Normalization: \(mean.count) means for \(std.count) stds")
        self.mean = mean
        self.std = std
    }
}

extension Normalization {
    /// Exact per-channel statistics of 8-bit images, from a histogram of pixel values.
    /// A channel that is constant gets std 1, so normalizing it cannot divide by zero.
    init(statisticsOf raw: RawImages) {
        let histogram = Normalization.histogram(raw)
        var mean: [Float] = []
        var std: [Float] = []
        for c in 0..<raw.channels {
            var total = 0.0, sum = 0.0, sumSquares = 0.0
            for v in 0..<256 {
                let n = Double(histogram[c * 256 + v])
                let x = Double(v) / 255
                total += n
                sum += n * x
            }
            let m = total > 0 ? sum / total : 0
            for v in 0..<256 {
                let d = Double(v) / 255 - m
                sumSquares += Double(histogram[c * 256 + v]) * d * d
            }
            let s = total > 0 ? (sumSquares / total).squareRoot() : 1
            mean.append(Float(m))
            std.append(s > 1e-12 ? Float(s) : 1)
        }
        self.init(mean: mean, std: std)
    }

    /// Counts of each pixel value per channel: `histogram[c·256 + v]`.
    private static func histogram(_ raw: RawImages) -> [Int] {
        var histogram = [Int](repeating: 0, count: raw.channels * 256)
        let plane = raw.height * raw.width
        raw.pixels.withUnsafeBufferPointer { pixels in
            histogram.withUnsafeMutableBufferPointer { counts in
                guard let src = pixels.baseAddress, let dst = counts.baseAddress else { return }
                for n in 0..<raw.count {
                    for c in 0..<raw.channels {
                        let channelCounts = dst + c * 256
                        let start = src + (n * raw.channels + c) * plane
                        for i in 0..<plane { channelCounts[Int(start[i])] &+= 1 }
                    }
                }
            }
        }
        return histogram
    }

    /// Normalized float images of `raw`, through a 256-entry lookup table per channel.
    func apply(to raw: RawImages) -> [Float] {
        precondition(mean.count == raw.channels, "Normalization has \(mean.count) channels, images \(raw.channels)")
        var table = [Float](repeating: 0, count: raw.channels * 256)
        for c in 0..<raw.channels {
            for v in 0..<256 {
                table[c * 256 + v] = Float((Double(v) / 255 - Double(mean[c])) / Double(std[c]))
            }
        }
        let plane = raw.height * raw.width
        let total = raw.pixels.count
        return [Float](unsafeUninitializedCapacity: total) { out, initialized in
            raw.pixels.withUnsafeBufferPointer { pixels in
                table.withUnsafeBufferPointer { lookup in
                    guard let src = pixels.baseAddress, let dst = out.baseAddress,
                          let lut = lookup.baseAddress else { return }
                    for n in 0..<raw.count {
                        for c in 0..<raw.channels {
                            let offset = (n * raw.channels + c) * plane
                            let channelTable = lut + c * 256
                            for i in 0..<plane { dst[offset + i] = channelTable[Int(src[offset + i])] }
                        }
                    }
                }
            }
            initialized = total
        }
    }
}
