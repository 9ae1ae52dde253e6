import CZlib
import Foundation

/// Inflates a gzip file (RFC 1952) front to back, only as far as the caller asks, so a reader can
/// refuse a file by its header before inflating the rest.
///
/// Accepts what both `gzip -t` and Python's `gzip` accept without complaint: members back to
/// back (as `cat a.gz b.gz` makes), optionally followed by zero bytes up to the end of the file
/// (padding to a block size). Refuses, with a sentence naming the file, anything else after a
/// member (`gzip` warns and ignores it, Python refuses it or, after zeros, reads it), truncated
/// members and corrupt data (zlib checks every member's CRC-32 and length).
final class GzipInflater {
    let path: String
    /// Bytes inflated so far: never more than the callers asked for.
    private(set) var inflatedCount = 0
    private let file: UnsafeMutablePointer<FILE>
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutablePointer<UInt8>
    private static let inputCapacity = 1 << 16
    private var fileEnded = false
    /// True between the end of one member and the start of the next (or the end of the data).
    private var betweenMembers = false
    private(set) var finished = false

    /// Inflates from `file`'s current position; the file stays the caller's to close.
    init(file: UnsafeMutablePointer<FILE>, path: String) throws {
        self.file = file
        self.path = path
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(capacity: Self.inputCapacity)
        // 16 + MAX_WBITS: a gzip wrapper, whose trailer zlib checks.
        guard inflateInit2_(stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            input.deallocate()
            throw DataError("zlib could not start decompressing \(path).")
        }
        stream.pointee.next_in = input
        stream.pointee.avail_in = 0
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    /// Inflates up to `count` bytes into `destination`; fewer only at the end of the data.
    func read(into destination: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        var produced = 0
        while produced < count && !finished {
            if betweenMembers {
                try startNextMember()
                continue
            }
            if stream.pointee.avail_in == 0 { try refill() }
            let room = min(count - produced, Int(UInt32.max))
            stream.pointee.next_out = destination + produced
            stream.pointee.avail_out = uInt(room)
            let status = inflate(stream, Z_NO_FLUSH)
            let made = room - Int(stream.pointee.avail_out)
            produced += made
            inflatedCount += made
            switch status {
            case Z_STREAM_END:
                betweenMembers = true
            case Z_OK:
                continue
            case Z_BUF_ERROR where stream.pointee.avail_in == 0 && fileEnded:
                throw DataError("\(path) is truncated: the gzip stream ends before its end marker.")
            case Z_BUF_ERROR:
                continue
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                throw DataError("\(path) is not a valid gzip file (zlib: \(message)).")
            }
        }
        return produced
    }

    /// After a member: the end of the data (nothing, or only zero padding, follows), or the
    /// start of the next member, which must follow at once.
    private func startNextMember() throws {
        var padding = 0
        while true {
            if stream.pointee.avail_in == 0 { try refill() }
            guard stream.pointee.avail_in > 0 else {
                finished = true
                return
            }
            guard stream.pointee.next_in[0] == 0 else { break }
            stream.pointee.next_in += 1
            stream.pointee.avail_in -= 1
            padding += 1
        }
        if padding > 0 {
            throw DataError(
                "\(path) has data after \(padding) bytes of zero padding that follow its gzip data; gzip would "
                    + "ignore it, so the file is probably damaged.")
        }
        if stream.pointee.avail_in < 2 { try refill() }
        guard stream.pointee.avail_in >= 2, stream.pointee.next_in[0] == 0x1f, stream.pointee.next_in[1] == 0x8b else {
            throw DataError(
                "\(path) has bytes after the end of its gzip data that are neither another gzip member nor "
                    + "zero padding; the file is damaged or not a gzip file.")
        }
        guard inflateReset(stream) == Z_OK else { throw DataError("zlib could not continue in \(path).") }
        betweenMembers = false
    }

    /// Moves the unread input to the front of the buffer and fills the rest from the file.
    private func refill() throws {
        guard !fileEnded else { return }
        let left = Int(stream.pointee.avail_in)
        if left > 0, let next = stream.pointee.next_in, next != input { input.update(from: next, count: left) }
        let got = fread(input + left, 1, Self.inputCapacity - left, file)
        if got < Self.inputCapacity - left {
            guard ferror(file) == 0 else { throw DataError("could not read \(path): \(String(cString: strerror(errno))).") }
            fileEnded = true
        }
        stream.pointee.next_in = input
        stream.pointee.avail_in = uInt(left + got)
    }
}
