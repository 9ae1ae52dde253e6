import CDNNL
import Tensor

/// A group of images [n, C, H, W] in oneDNN's channel-blocked layout (nChw16c on AVX-512, nChw8c
/// on AVX2: image after image, each in blocks of B channels, each block pixel after pixel with the
/// pixel's B channels together; C padded with zeros to a multiple of B), and the copies between it
/// and the images' slices of our [C, N, H, W] tensors. Each copy is one OpenBLAS transpose
/// (`BLAS.transpose`) per image and block: the same floats in other places, so the same bits as
/// oneDNN's reorders, which they replace where a primitive chose this layout; 1.7–6.5× faster than
/// them on resnet20's shapes at batch 32 but one (Benchmarks/README.md, "Reorders").
struct ChannelBlocks {
    let images: Int, channels: Int, block: Int, plane: Int
    /// Floats between two channels of one image in our tensor: N·H·W of the whole batch.
    let channelStride: Int

    /// The layout of `md` when it is that one (else nil), for a tensor of `batch` images.
    init?(_ md: dnnl_memory_desc_t, batch: Int) {
        guard md.ndims == 4, md.format_kind == dnnl_blocked, md.offset0 == 0 else { return nil }
        func values(_ tuple: dnnl_dims_t) -> [Int] {
            withUnsafeBytes(of: tuple) { Array($0.bindMemory(to: Int64.self).prefix(4)).map(Int.init) }
        }
        let dims = values(md.dims), padded = values(md.padded_dims), offsets = values(md.padded_offsets)
        let blocking = md.format_desc.blocking
        let strides = values(blocking.strides), blocks = values(blocking.inner_blks), indices = values(blocking.inner_idxs)
        let b = blocks[0], (n, c, h, w) = (dims[0], dims[1], dims[2], dims[3])
        guard blocking.inner_nblks == 1, indices[0] == 1, b == 8 || b == 16, offsets == [0, 0, 0, 0],
              padded == [n, (c + b - 1) / b * b, h, w], strides == [padded[1] * h * w, h * w * b, w * b, b] else { return nil }
        images = n
        channels = c
        block = b
        plane = h * w
        channelStride = batch * h * w
    }

    /// Channels of block `k`: B, or fewer in the last one when C is not a multiple of B.
    private func width(_ k: Int) -> Int { min(block, channels - k * block) }
    private var blocks: Int { (channels + block - 1) / block }

    /// Our images (at the group's first image) into the blocked layout, padding channels zeroed.
    func toBlocked(_ ours: UnsafePointer<Float>, _ blocked: UnsafeMutablePointer<Float>) {
        for i in 0..<images {
            for k in 0..<blocks {
                let dst = blocked + (i * blocks + k) * plane * block, count = width(k)
                BLAS.transpose(ours + k * block * channelStride + i * plane, rows: count, cols: plane,
                               srcStride: channelStride, into: dst, dstStride: block)
                if count < block {
                    for p in 0..<plane { (dst + p * block + count).update(repeating: 0, count: block - count) }
                }
            }
        }
    }

    /// The blocked layout out into our images (at the group's first image); padding is dropped.
    func fromBlocked(_ blocked: UnsafePointer<Float>, _ ours: UnsafeMutablePointer<Float>) {
        for i in 0..<images {
            for k in 0..<blocks {
                BLAS.transpose(blocked + (i * blocks + k) * plane * block, rows: plane, cols: width(k), srcStride: block,
                               into: ours + k * block * channelStride + i * plane, dstStride: channelStride)
            }
        }
    }
}

/// One step of a group's pass: a oneDNN primitive, or one of our copies between our tensor and
/// a channel-blocked one (`ChannelBlocks`), on the buffers its memories are bound to.
enum GroupOp {
    case primitive(DNNLOp)
    case toBlocked(ChannelBlocks, from: DNNLMemory, to: DNNLMemory)
    case fromBlocked(ChannelBlocks, from: DNNLMemory, to: DNNLMemory)

    @inline(__always)
    func run(_ stream: dnnl_stream_t) {
        switch self {
        case .primitive(let op): op.run(stream)
        case .toBlocked(let blocks, let from, let to):
            blocks.toBlocked(from.pointer.assumingMemoryBound(to: Float.self), to.pointer.assumingMemoryBound(to: Float.self))
        case .fromBlocked(let blocks, let from, let to):
            blocks.fromBlocked(from.pointer.assumingMemoryBound(to: Float.self), to.pointer.assumingMemoryBound(to: Float.self))
        }
    }
}
