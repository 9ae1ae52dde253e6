import Comm
import Data
import NN
import Tensor

/// What `Trainer` and `AsyncTrainer` share to evaluate a model: the in-process average of
/// several replicas' buffers and the batched test pass.
package enum ModelEvaluation {
    /// `target` ← the mean of `sources`, by the in-process all-reduce's kernel (`OrderedSum`:
    /// summed in source order, divided by their count), element ranges spread over `pool`.
    package static func average(_ sources: [UnsafeMutablePointer<Float>], into target: FloatBuffer, pool: ThreadPool) {
        let divisor = Float(sources.count), dst = target.pointer
        pool.runChunks(target.count) { range in
            OrderedSum.reduce(sources[...], into: dst, offset: range.lowerBound, count: range.count, divisor: divisor)
        }
    }

    /// One lane's scratch: its input tensor (reshaped here, restored to `restore` at the end),
    /// its label buffer and its network.
    package struct Lane {
        let images: Tensor
        let labels: UnsafeMutableBufferPointer<Int32>
        let network: Network

        package init(images: Tensor, labels: UnsafeMutableBufferPointer<Int32>, network: Network) {
            self.images = images
            self.labels = labels
            self.network = network
        }
    }

    /// Mean loss and accuracy of `replica` on `dataset`, in batches of `batchSize` spread over
    /// `pool`; sums are taken in batch order so the result does not depend on the threads.
    /// Per label: the loss is the mean over every label (token, for text) in nats, the accuracy
    /// the fraction of labels predicted, of count·`labelsPerSample`. Each lane's label buffer
    /// holds `batchSize`·`labelsPerSample` labels.
    package static func evaluate(_ replica: Replica, on dataset: Dataset, batchSize b: Int, pool: ThreadPool,
                         lanes: [Lane], restore: Shape) -> (loss: Double, accuracy: Double) {
        let batches = (dataset.count + b - 1) / b
        var losses = [Double](repeating: 0, count: batches), correct = [Int](repeating: 0, count: batches)
        losses.withUnsafeMutableBufferPointer { lossOut in
            correct.withUnsafeMutableBufferPointer { correctOut in
                pool.run(batches) { i, l in
                    let lo = i * b, hi = min(dataset.count, lo + b)
                    let lane = lanes[l]
                    lane.images.reshape(Shape(dataset.channels, hi - lo, dataset.height, dataset.width))
                    var rng = RandomGenerator(seed: 0)
                    fillBatch(from: dataset, indices: Array(lo..<hi)[...], images: lane.images.pointer,
                              labels: lane.labels.baseAddress!, augmentation: Augmentation(), rng: &rng)
                    let r = lane.network.evaluate(images: lane.images, labels: lane.labels.baseAddress!, replica.view)
                    lossOut[i] = Double(r.loss) * Double(hi - lo)
                    correctOut[i] = r.correct
                }
            }
        }
        for lane in lanes { lane.images.reshape(restore) }
        let n = Double(dataset.count)
        // Every sample has labelsPerSample labels, so the mean of batch means weighted by samples
        // is the mean over labels.
        return (losses.reduce(0, +) / n, Double(correct.reduce(0, +)) / (n * Double(dataset.labelsPerSample)))
    }
}
