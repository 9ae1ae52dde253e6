import Tensor
import XCTest
@testable import NN
import TestSupport

/// Training steps of the GPTs: the same bits on any number of threads, and a tiny model that
/// learns a repeated sequence by heart.
final class GPTTrainingTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    /// Next-token labels of `tokens` [1, N, 1, T] within a cyclic text of `period` tokens 0, 1, …:
    /// the token after (n, t) is tokens[n, t] + 1 mod period.
    func nextTokens(_ tokens: Tensor, period: Int) -> [Int32] {
        tokens.array.map { Int32((Int($0) + 1) % period) }
    }

    /// Loss then gradients after one step of gpt-tiny (N = 8, T = 64, vocabulary 65, where every
    /// layer splits its work) on `threads` threads.
    func step(threads: Int) throws -> [Float] {
        let net = try Network(ModelSpec(kind: .gptTiny, channels: 1, height: 1, width: 64, classes: 65))
        net.threads = threads
        let replica = Replica(for: net)
        net.initialize(replica, seed: 5)
        let tokens = randomTokens(sequences: 8, length: 64, vocabulary: 65, seed: 6)
        let labels = nextTokens(tokens, period: 65)
        let loss = try labels.withUnsafeBufferPointer {
            net.trainStep(images: tokens, labels: try XCTUnwrap($0.baseAddress), replica.view,
                          .training(seed: 1, epoch: 0, worker: 0, step: 0)).loss
        }
        return [loss] + replica.gradients.array
    }

    func testGPTTinyStepIsThreadIndependent() throws {
        let one = try step(threads: 1)
        XCTAssertEqual(one[0], logf(65), accuracy: 0.2, "initial loss near ln V")
        for threads in [2, 3] {
            let other = try step(threads: threads)
            XCTAssertEqual(zip(one, other).filter { $0 != $1 }.count, 0, "1 against \(threads) threads")
        }
    }

    /// gpt-micro learns a short text by heart, with plain SGD (rate 0.5): π's digits 3 1 4 1 5 9 2 6 5
    /// as tokens of a vocabulary of 10, in 4 copies of the first T = 8 each labelled with the next
    /// digit (the two 1s are followed by different digits: position matters). The loss goes from
    /// about ln 10 to below 0.05 in 200 steps (0.004 after 100 here).
    func testGPTMicroOverfitsARepeatedSequence() throws {
        let text = [3, 1, 4, 1, 5, 9, 2, 6, 5], t = 8, n = 4
        let net = try Network(ModelSpec(kind: .gptMicro, channels: 1, height: 1, width: t, classes: 10))
        let replica = Replica(for: net)
        net.initialize(replica, seed: 7)
        let tokens = Tensor(Shape(1, n, 1, t), values: (0..<(n * t)).map { Float(text[$0 % t]) })
        let labels = (0..<(n * t)).map { Int32(text[$0 % t + 1]) }
        var first: Float = 0, last: Float = 0
        try labels.withUnsafeBufferPointer { lp in
            let l = try XCTUnwrap(lp.baseAddress)
            for step in 0..<200 {
                replica.gradients.zero()
                let loss = net.trainStep(images: tokens, labels: l, replica.view,
                                         .training(seed: 1, epoch: 0, worker: 0, step: step)).loss
                if step == 0 { first = loss }
                last = loss
                Vector.axpy(-0.5, replica.gradients.pointer, replica.parameters.pointer, count: replica.parameters.count)
            }
        }
        XCTAssertEqual(first, logf(10), accuracy: 0.2)
        XCTAssertLessThan(last, 0.05, "loss after 200 SGD steps")
    }
}
