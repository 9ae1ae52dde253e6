import Foundation

/// A data file read front to back, only as far as its reader asks: plain bytes, or gzip (detected
/// by the magic bytes 0x1f 0x8b) inflated on the fly by `GzipInflater`. Readers take the header
/// first and refuse a wrong one before the payload is read or inflated, then ask for exactly the
/// size the header declares.
final class DataFileReader {
    let path: String
    private let file: UnsafeMutablePointer<FILE>
    private let gzip: GzipInflater?
    /// Bytes of the file on disk.
    let fileSize: Int
    /// Data bytes handed out so far.
    private(set) var position = 0

    init(path: String) throws {
        guard let file = fopen(path, "rb") else {
            throw DataError("cannot open \(path): \(String(cString: strerror(errno))).")
        }
        self.file = file
        self.path = path
        let size = fseeko(file, 0, SEEK_END) == 0 ? Int(ftello(file)) : -1
        guard size >= 0, fseeko(file, 0, SEEK_SET) == 0 else {
            fclose(file)
            throw DataError("cannot seek in \(path).")
        }
        fileSize = size
        var magic: [UInt8] = [0, 0]
        let isGzip = fread(&magic, 1, 2, file) == 2 && magic == [0x1f, 0x8b]
        rewind(file)
        do {
            gzip = isGzip ? try GzipInflater(file: file, path: path) : nil
        } catch {
            fclose(file)
            throw error
        }
    }

    deinit { fclose(file) }

    var isCompressed: Bool { gzip != nil }
    /// Bytes inflated so far (0 for a plain file): what a test bounds to show that a bad header
    /// stops the reading early.
    var inflatedCount: Int { gzip?.inflatedCount ?? 0 }

    /// The most data bytes that can remain: exact for a plain file; for gzip, what the whole
    /// file could inflate to (deflate expands at most ~1032:1), so a corrupt header's claim can be
    /// refused without inflating anything and never gets to allocate memory.
    var mostRemaining: Int {
        isCompressed ? fileSize.multipliedReportingOverflow(by: 1032).partialValue - position : fileSize - position
    }

    /// Up to `count` more bytes of data: exactly `count` unless the data ends first.
    func read(_ count: Int) throws -> [UInt8] {
        precondition(count >= 0, "DataFileReader.read: negative count")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(max(0, min(count, mostRemaining)))
        let chunk = 1 << 24
        while bytes.count < count {
            let want = min(count - bytes.count, chunk)
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: want))
            let got = try bytes.withUnsafeMutableBufferPointer { try fill($0.baseAddress! + start, count: want) }
            if got < want {
                bytes.removeLast(want - got)
                break
            }
        }
        position += bytes.count
        return bytes
    }

    /// Reads to the end of the data and says how many bytes were left: exactly for a plain file;
    /// for gzip, inflating at most `limit` of them (the whole stream, trailer checks included,
    /// when fewer remain).
    func skipRest(upTo limit: Int) throws -> Int {
        if !isCompressed { return max(0, fileSize - position) }
        return try read(limit).count
    }

    private func fill(_ destination: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        if let gzip { return try gzip.read(into: destination, count: count) }
        let got = fread(destination, 1, count, file)
        if got < count && ferror(file) != 0 {
            throw DataError("could not read \(path): \(String(cString: strerror(errno))).")
        }
        return got
    }
}
