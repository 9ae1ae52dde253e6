import Tensor

/// Copies the samples `indices` of `dataset` into a batch in the compute core's `[C, N, H, W]`
/// layout (element (c, n, h, w) at ((c·N + n)·H + h)·W + w, N = `indices.count`) and their
/// labels into `labels[0..<N·L]`, L = `dataset.labelsPerSample` (label (n, l) at n·L + l),
/// applying `augmentation` with draws from `rng`.
///
/// Runs every training step, so it allocates nothing. Images: per sample the draws are crop
/// offsets (row, then column; only if `cropPadding > 0`), then the flip (only if
/// `horizontalFlip`). Text ignores `augmentation`: per sample one draw shifts its window when the
/// split shifts windows (`TokenWindows.fill`). Callers derive `rng` as
/// `RandomGenerator(seed:, stream: [Stream.augmentation, epoch, worker, step])`.
public func fillBatch(
    from dataset: Dataset, indices: ArraySlice<Int>, images: UnsafeMutablePointer<Float>,
    labels: UnsafeMutablePointer<Int32>, augmentation: Augmentation, rng: inout RandomGenerator
) {
    switch dataset.storage {
    case .tokens(let windows):
        windows.fill(indices: indices, inputs: images, labels: labels, rng: &rng)
    case .images(let pixels, let classes):
        fillImageBatch(from: dataset, pixels: pixels, classes: classes, indices: indices, images: images, labels: labels,
                       augmentation: augmentation, rng: &rng)
    }
}

private func fillImageBatch(
    from dataset: Dataset, pixels: [Float], classes: [Int32], indices: ArraySlice<Int>, images: UnsafeMutablePointer<Float>,
    labels: UnsafeMutablePointer<Int32>, augmentation: Augmentation, rng: inout RandomGenerator
) {
    let batch = indices.count
    let padding = augmentation.cropPadding
    pixels.withUnsafeBufferPointer { source in
        guard let base = source.baseAddress else { return }
        for (n, index) in indices.enumerated() {
            precondition(index >= 0 && index < dataset.count, "fillBatch: index \(index) not in 0..<\(dataset.count)")
            labels[n] = classes[index]
            var dy = 0, dx = 0
            if padding > 0 {
                dy = rng.nextInt(below: 2 * padding + 1) - padding
                dx = rng.nextInt(below: 2 * padding + 1) - padding
            }
            let flip = augmentation.horizontalFlip && rng.next() >> 63 == 1
            let sample = base + index * dataset.sampleSize
            for c in 0..<dataset.channels {
                let plane = dataset.height * dataset.width
                copyPlane(from: sample + c * plane, to: images + (c * batch + n) * plane,
                          height: dataset.height, width: dataset.width, dy: dy, dx: dx, flip: flip)
            }
        }
    }
}

/// out(h, w) = in(h + dy, w' + dx) with w' = W−1−w when flipped (the crop window moves, then
/// the crop is mirrored), zero where that falls outside the image.
@inline(__always)
private func copyPlane(
    from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>,
    height: Int, width: Int, dy: Int, dx: Int, flip: Bool
) {
    if dy == 0 && dx == 0 && !flip {
        destination.update(from: source, count: height * width)
        return
    }
    for h in 0..<height {
        let row = destination + h * width
        let y = h + dy
        guard y >= 0 && y < height else {
            row.update(repeating: 0, count: width)
            continue
        }
        let input = source + y * width
        for w in 0..<width {
            let x = (flip ? width - 1 - w : w) + dx
            row[w] = x >= 0 && x < width ? input[x] : 0
        }
    }
}
