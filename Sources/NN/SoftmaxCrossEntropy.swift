import Foundation
import Tensor

/// Mean softmax cross-entropy over a batch of logits [classes, N] (class-major, the core's
/// vector layout), with its gradient (softmax − one-hot)/N written in the same pass.
public enum SoftmaxCrossEntropy {
    public struct Result: Sendable {
        /// Mean loss over the batch.
        public var loss: Float
        /// Samples whose largest logit is the label.
        public var correct: Int
    }

    /// `gradient` may be nil (evaluation). Labels must be in 0..<classes.
    public static func evaluate(logits: Tensor, labels: UnsafePointer<Int32>, gradient: Tensor?) -> Result {
        let classes = logits.shape.c, n = logits.shape.n
        gradient?.reshape(logits.shape)
        let z = logits.pointer
        var total: Double = 0
        var correct = 0
        for b in 0..<n {
            let label = Int(labels[b])
            precondition(label >= 0 && label < classes, "label \(label) outside 0..<\(classes)")
            var maxValue = -Float.infinity, argmax = 0
            for k in 0..<classes where z[k * n + b] > maxValue { maxValue = z[k * n + b]; argmax = k }
            var sum: Float = 0
            for k in 0..<classes { sum += expf(z[k * n + b] - maxValue) }
            let logSum = logf(sum) + maxValue
            total += Double(logSum - z[label * n + b])
            if argmax == label { correct += 1 }
            if let g = gradient?.pointer {
                let scale = 1 / Float(n)
                for k in 0..<classes { g[k * n + b] = expf(z[k * n + b] - logSum) * scale }
                g[label * n + b] -= scale
            }
        }
        return Result(loss: Float(total / Double(n)), correct: correct)
    }
}
