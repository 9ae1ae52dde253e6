import Foundation
import Tensor

/// Shape and seed of the synthetic dataset used by tests and quick runs.
///
/// Each class has one smooth random template; a sample is its class template plus Gaussian
/// pixel noise, quantized to 8-bit pixels. The template amplitude is scaled with the image
/// size so that the difficulty stays roughly the same whatever the shape: a nearest-class-mean
/// classifier fit on the default 2048 samples scores ≈ 92 % on the test set (10 classes,
/// 28×28 or 3×16×16): learnable by a small model in a few epochs, but not trivially.
public struct SyntheticConfig: Codable, Equatable, Sendable {
    public var trainCount: Int = 2048
    public var testCount: Int = 512
    public var channels: Int = 1
    public var height: Int = 28
    public var width: Int = 28
    public var classes: Int = 10
    public var seed: UInt64 = 0

    public init(
        trainCount: Int = 2048, testCount: Int = 512, channels: Int = 1, height: Int = 28, width: Int = 28,
        classes: Int = 10, seed: UInt64 = 0
    ) {
        self.trainCount = trainCount
        self.testCount = testCount
        self.channels = channels
        self.height = height
        self.width = width
        self.classes = classes
        self.seed = seed
    }

    private enum CodingKeys: String, CodingKey {
        case trainCount, testCount, channels, height, width, classes, seed
    }

    /// Missing keys take their defaults, so a config file names only what it changes.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SyntheticConfig()
        trainCount = try c.decodeIfPresent(Int.self, forKey: .trainCount) ?? d.trainCount
        testCount = try c.decodeIfPresent(Int.self, forKey: .testCount) ?? d.testCount
        channels = try c.decodeIfPresent(Int.self, forKey: .channels) ?? d.channels
        height = try c.decodeIfPresent(Int.self, forKey: .height) ?? d.height
        width = try c.decodeIfPresent(Int.self, forKey: .width) ?? d.width
        classes = try c.decodeIfPresent(Int.self, forKey: .classes) ?? d.classes
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
    }

    func validate() throws {
        let fields: [(String, Int, Int)] = [
            ("trainCount", trainCount, 1), ("testCount", testCount, 1), ("channels", channels, 1),
            ("height", height, 1), ("width", width, 1), ("classes", classes, 1),
        ]
        for (name, value, minimum) in fields where value < minimum {
            throw DataError("synthetic dataset field \(name) is \(value); it must be at least \(minimum).")
        }
        guard classes <= Int(Int32.max) else {
            throw DataError("synthetic dataset field classes is \(classes); it must fit in Int32.")
        }
    }
}

/// Generation of the synthetic dataset (templates, then noisy samples).
enum SyntheticDataset {
    /// Pixel = 128 + 40·(amplitude·template + noise), noise ~ N(0, 1): 3σ stays inside 0...255.
    private static let pixelCenter: Float = 128
    private static let pixelScale: Float = 40
    /// Distance between two class templates in noise standard deviations is about this·√2.
    private static let separation: Float = 4

    static func make(_ config: SyntheticConfig) throws -> (train: RawImages, test: RawImages) {
        try config.validate()
        let templates = makeTemplates(config)
        let train = makeSamples(config, templates: templates, count: config.trainCount, stream: 1)
        let test = makeSamples(config, templates: templates, count: config.testCount, stream: 2)
        return (train, test)
    }

    /// One template per class, each channel a bilinear upsampling of a random 4×4 grid,
    /// scaled to zero mean and RMS `separation / √sampleSize`.
    private static func makeTemplates(_ config: SyntheticConfig) -> [Float] {
        var rng = RandomGenerator(seed: config.seed, stream: [Stream.synthetic, 0])
        let size = config.channels * config.height * config.width
        let amplitude = separation / Float(size).squareRoot()
        var templates = [Float](repeating: 0, count: config.classes * size)
        let grid = 4
        for k in 0..<config.classes {
            var template = [Float](repeating: 0, count: size)
            for c in 0..<config.channels {
                let coarse = (0..<(grid * grid)).map { _ in rng.nextNormal() }
                upsample(coarse, grid: grid, into: &template, offset: c * config.height * config.width,
                         height: config.height, width: config.width)
            }
            let mean = template.reduce(0, +) / Float(size)
            let rms = (template.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(size)).squareRoot()
            let scale = rms > 1e-6 ? amplitude / rms : 0
            for i in 0..<size { templates[k * size + i] = (template[i] - mean) * scale }
        }
        return templates
    }

    /// Bilinear interpolation of a grid×grid array onto height×width (corners aligned).
    private static func upsample(
        _ coarse: [Float], grid: Int, into out: inout [Float], offset: Int, height: Int, width: Int
    ) {
        func coordinate(_ i: Int, _ extent: Int) -> (Int, Int, Float) {
            let x = extent > 1 ? Float(i) * Float(grid - 1) / Float(extent - 1) : 0
            let lo = min(Int(x), grid - 2)
            return (lo, lo + 1, x - Float(lo))
        }
        for h in 0..<height {
            let (y0, y1, fy) = coordinate(h, height)
            for w in 0..<width {
                let (x0, x1, fx) = coordinate(w, width)
                let top = coarse[y0 * grid + x0] * (1 - fx) + coarse[y0 * grid + x1] * fx
                let bottom = coarse[y1 * grid + x0] * (1 - fx) + coarse[y1 * grid + x1] * fx
                out[offset + h * width + w] = top * (1 - fy) + bottom * fy
            }
        }
    }

    /// Balanced labels in random order; each sample its template plus noise, as 8-bit pixels.
    private static func makeSamples(_ config: SyntheticConfig, templates: [Float], count: Int, stream: UInt64) -> RawImages {
        var rng = RandomGenerator(seed: config.seed, stream: [Stream.synthetic, stream])
        var labels = (0..<count).map { Int32($0 % config.classes) }
        rng.shuffle(&labels)
        let size = config.channels * config.height * config.width
        var pixels = [UInt8](repeating: 0, count: count * size)
        templates.withUnsafeBufferPointer { t in
            pixels.withUnsafeMutableBufferPointer { p in
                for n in 0..<count {
                    let template = t.baseAddress! + Int(labels[n]) * size
                    let out = p.baseAddress! + n * size
                    var i = 0
                    while i < size {
                        let (z0, z1) = normalPair(&rng)
                        out[i] = pixel(template[i], z0)
                        if i + 1 < size { out[i + 1] = pixel(template[i + 1], z1) }
                        i += 2
                    }
                }
            }
        }
        return RawImages(channels: config.channels, height: config.height, width: config.width,
                         pixels: pixels, labels: labels)
    }

    @inline(__always)
    private static func pixel(_ signal: Float, _ noise: Float) -> UInt8 {
        UInt8(max(0, min(255, (pixelCenter + pixelScale * (signal + noise)).rounded())))
    }

    /// Two independent standard normals from one Box–Muller draw (half the cost of two
    /// `nextNormal()` calls, which matters for the million-pixel datasets tests make).
    @inline(__always)
    private static func normalPair(_ rng: inout RandomGenerator) -> (Float, Float) {
        let u1 = max(Float(rng.next() >> 40) * (1.0 / 16_777_216.0), 1e-12)
        let u2 = Float(rng.next() >> 40) * (1.0 / 16_777_216.0)
        let r = (-2 * log(u1)).squareRoot()
        let angle = 2 * Float.pi * u2
        return (r * cos(angle), r * sin(angle))
    }
}
