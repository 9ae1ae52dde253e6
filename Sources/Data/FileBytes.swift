import CZlib
import Foundation

/// Reading whole data files into memory, transparently decompressing gzip (detected by its
/// magic bytes 0x1f 0x8b, inflated by zlib).
enum FileBytes {
    /// The bytes of `path`, gunzipped if the file is gzip-compressed.
    static func read(_ path: String) throws -> [UInt8] {
        let bytes = try readRaw(path)
        if bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
            return try gunzip(bytes, path: path)
        }
        return bytes
    }

    /// The first existing file among `name` and `name.gz` in `directory`, or nil.
    static func existing(_ name: String, in directory: String) -> String? {
        for candidate in [name, name + ".gz"] {
            let path = (directory as NSString).appendingPathComponent(candidate)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return path
            }
        }
        return nil
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    private static func readRaw(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else {
            throw DataError("cannot open \(path): \(String(cString: strerror(errno))).")
        }
        defer { fclose(file) }
        guard fseeko(file, 0, SEEK_END) == 0 else { throw DataError("cannot seek in \(path).") }
        let size = Int(ftello(file))
        guard size >= 0, fseeko(file, 0, SEEK_SET) == 0 else { throw DataError("cannot seek in \(path).") }
        var readCount = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            if let base = buffer.baseAddress { readCount = fread(base, 1, size, file) }
            initialized = readCount
        }
        guard readCount == size else {
            throw DataError("could not read \(path): got \(readCount) of \(size) bytes.")
        }
        return bytes
    }

    /// Inflates every gzip member of `compressed` with zlib.
    static func gunzip(_ compressed: [UInt8], path: String) throws -> [UInt8] {
        // The trailer's ISIZE (uncompressed size mod 2^32) is a good first capacity guess.
        let n = compressed.count
        let hint = n >= 4
            ? Int(compressed[n - 4]) | Int(compressed[n - 3]) << 8 | Int(compressed[n - 2]) << 16
                | Int(compressed[n - 1]) << 24
            : 0
        // Deflate expands at most ~1032:1, which bounds a corrupt trailer's claim.
        var output = [UInt8](repeating: 0, count: max(min(hint, 1032 * n), n, 1024))
        var produced = 0
        try compressed.withUnsafeBufferPointer { input in
            var stream = z_stream()
            guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
            else { throw DataError("zlib could not start decompressing \(path).") }
            defer { inflateEnd(&stream) }
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            produced = try inflateAll(&stream, into: &output, path: path)
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Runs `inflate` until the input is used up, growing `output` as needed; returns the
    /// number of bytes produced.
    private static func inflateAll(_ stream: inout z_stream, into output: inout [UInt8], path: String) throws -> Int {
        var produced = 0
        while true {
            if produced == output.count { output.append(contentsOf: repeatElement(0, count: output.count)) }
            let room = min(output.count - produced, Int(UInt32.max))
            let status: Int32 = output.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress! + produced
                stream.avail_out = uInt(room)
                let status = inflate(&stream, Z_NO_FLUSH)
                produced += room - Int(stream.avail_out)
                return status
            }
            switch status {
            case Z_STREAM_END:
                // Concatenated gzip members (as `cat a.gz b.gz` makes) decode as one file.
                if stream.avail_in == 0 { return produced }
                guard inflateReset(&stream) == Z_OK else { throw DataError("zlib could not continue in \(path).") }
            case Z_OK:
                continue
            case Z_BUF_ERROR where stream.avail_in == 0:
                throw DataError("\(path) is truncated: the gzip stream ends before its end marker.")
            case Z_BUF_ERROR:
                continue
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw DataError("\(path) is not a valid gzip file (zlib: \(message)).")
            }
        }
    }
}
