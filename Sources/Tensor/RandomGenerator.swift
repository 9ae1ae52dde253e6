import Foundation

/// Seeded, splittable pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// Determinism: everything random draws from a generator derived from
/// (run seed, purpose, worker, epoch), e.g. `RandomGenerator(seed: s, stream: [Stream.shuffle, epoch])`.
/// Deriving is a pure function of the path, so two runs with the same seed draw the same
/// numbers whatever the thread scheduling. The state is `Codable` so checkpoints can save it.
public struct RandomGenerator: RandomNumberGenerator, Codable, Equatable, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64, stream: [UInt64] = []) {
        var x = seed
        for id in stream { RandomGenerator.mix(&x, id) }
        self.init(mixed: x)
    }

    /// The same generator as `init(seed:stream: [a, b, c, d])`, without building an array (for
    /// per-step use in the training loop, which must not allocate).
    public init(seed: UInt64, _ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64) {
        var x = seed
        RandomGenerator.mix(&x, a)
        RandomGenerator.mix(&x, b)
        RandomGenerator.mix(&x, c)
        RandomGenerator.mix(&x, d)
        self.init(mixed: x)
    }

    @inline(__always)
    private static func mix(_ x: inout UInt64, _ id: UInt64) {
        x = splitMix(&x) ^ (id &* 0x9E37_79B9_7F4A_7C15)
    }

    private init(mixed: UInt64) {
        var x = mixed
        s0 = RandomGenerator.splitMix(&x)
        s1 = RandomGenerator.splitMix(&x)
        s2 = RandomGenerator.splitMix(&x)
        s3 = RandomGenerator.splitMix(&x)
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    /// A generator for a sub-stream, independent of how much of `self` was consumed.
    public func derived(_ stream: UInt64...) -> RandomGenerator {
        var x = s0 ^ (s1 &<< 1) ^ (s2 &<< 2) ^ (s3 &<< 3)
        return RandomGenerator(seed: RandomGenerator.splitMix(&x), stream: stream)
    }

    private static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform integer in 0..<bound (Lemire's method, unbiased).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Standard normal sample (Box–Muller; one value per call, for simplicity and determinism).
    public mutating func nextNormal() -> Float {
        var u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Fisher–Yates shuffle with this generator's own integers, so the order does not depend
    /// on the standard library's shuffle algorithm.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }

    /// A random permutation of 0..<count.
    public mutating func permutation(_ count: Int) -> [Int] {
        var p = Array(0..<count)
        shuffle(&p)
        return p
    }
}

/// Purposes of random streams, so that e.g. shuffling and initialisation never share numbers.
public enum Stream {
    public static let initialization: UInt64 = 1
    public static let shuffle: UInt64 = 2
    public static let augmentation: UInt64 = 3
    public static let synthetic: UInt64 = 4
    /// Layers' own randomness (dropout masks), per (epoch, worker, step): `StepContext.random`.
    public static let layers: UInt64 = 5
    /// Drawing tokens from a language model (`localsgd sample`).
    public static let sampling: UInt64 = 6
    /// Per-worker speeds of `--worker-speeds lognormal:σ`, drawn once per run.
    public static let workerSpeeds: UInt64 = 7
}
