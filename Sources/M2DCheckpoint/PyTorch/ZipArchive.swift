// ZipArchive: reads the directory of a zip file (as torch.save writes it) and hands out the bytes
// of stored (uncompressed) entries. Compressed entries, multi-disk archives and anything malformed
// are clear errors; every offset is bounds-checked, so damaged files never crash the reader.
import Foundation

public struct ZipArchive {
    public struct Entry: Sendable {
        public let name: String
        public let method: UInt16
        public let compressedSize: Int
        public let size: Int
        let localHeaderOffset: Int
    }

    public let entries: [String: Entry]
    private let bytes: UnsafeRawBufferPointer
    private let path: String

    /// `bytes` must outlive the archive (callers keep the MappedFile alive).
    public init(bytes: UnsafeRawBufferPointer, path: String) throws(CheckpointError) {
        self.bytes = bytes
        self.path = path
        func fail(_ reason: String) -> CheckpointError { .malformed(path: path, reason: reason) }
        func u16(_ at: Int) throws(CheckpointError) -> Int {
            guard at >= 0, at <= bytes.count - 2 else { throw fail("zip structure points past the end of the file") }
            return Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
        }
        func u32(_ at: Int) throws(CheckpointError) -> Int {
            guard at >= 0, at <= bytes.count - 4 else { throw fail("zip structure points past the end of the file") }
            return Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
        }
        func u64(_ at: Int) throws(CheckpointError) -> Int {
            guard at >= 0, at <= bytes.count - 8 else { throw fail("zip structure points past the end of the file") }
            let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            guard v < UInt64(Int.max) else { throw fail("zip64 value out of range") }
            return Int(v)
        }
        guard bytes.count >= 22 else { throw fail("too short to be a zip archive (\(bytes.count) bytes)") }
        // End of central directory: within the last 64 KiB + 22 bytes.
        var eocd = -1
        var i = bytes.count - 22
        while i >= max(0, bytes.count - 65_557) {
            if try u32(i) == 0x0605_4B50 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else {
            if bytes.count >= 2, bytes[0] == 0x80 {
                throw fail("this is a legacy (pre-1.6, non-zip) torch.save file; re-save it with a recent torch.save")
            }
            throw fail("not a zip archive (no end-of-central-directory record)")
        }
        guard try u16(eocd + 4) == 0, try u16(eocd + 6) == 0 else {
            throw fail("multi-disk zip archives are not supported")
        }
        var count = try u16(eocd + 10)
        var directorySize = try u32(eocd + 12)
        var directoryOffset = try u32(eocd + 16)
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // Zip64 locator just before the EOCD.
            let locator = eocd - 20
            guard try u32(locator) == 0x0706_4B50 else { throw fail("zip64 locator missing") }
            let record = try u64(locator + 8)
            guard try u32(record) == 0x0606_4B50 else { throw fail("zip64 end record missing") }
            count = try u64(record + 32)
            directorySize = try u64(record + 40)
            directoryOffset = try u64(record + 48)
        }
        guard directoryOffset <= bytes.count, directorySize <= bytes.count - directoryOffset,
            count <= directorySize / 46 + 1
        else {
            throw fail("central directory lies outside the file")
        }
        var entries: [String: Entry] = [:]
        var at = directoryOffset
        for _ in 0..<count {
            guard try u32(at) == 0x0201_4B50 else { throw fail("bad central directory entry") }
            let method = UInt16(try u16(at + 10))
            var compressed = try u32(at + 20), size = try u32(at + 24)
            let nameLength = try u16(at + 28), extraLength = try u16(at + 30), commentLength = try u16(at + 32)
            var local = try u32(at + 42)
            guard at + 46 + nameLength <= bytes.count else { throw fail("entry name past the end of the file") }
            let name = String(
                decoding: UnsafeRawBufferPointer(rebasing: bytes[(at + 46)..<(at + 46 + nameLength)]), as: UTF8.self)
            // Zip64 extended information (0x0001) carries the values that overflowed 32 bits, in order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = try u16(extra), length = try u16(extra + 2)
                if id == 0x0001 {
                    var field = extra + 4
                    if size == 0xFFFF_FFFF { size = try u64(field); field += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = try u64(field); field += 8 }
                    if local == 0xFFFF_FFFF { local = try u64(field) }
                }
                extra += 4 + length
            }
            entries[name] = Entry(
                name: name, method: method, compressedSize: compressed, size: size, localHeaderOffset: local)
            at += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }

    /// The bytes of a stored entry.
    public func data(_ name: String) throws(CheckpointError) -> UnsafeRawBufferPointer {
        guard let e = entries[name] else { throw .malformed(path: path, reason: "zip entry '\(name)' is missing") }
        guard e.method == 0 else {
            throw .malformed(
                path: path,
                reason:
                    "zip entry '\(name)' is compressed (method \(e.method)); only stored entries are read. "
                    + "Re-save with torch.save (it stores entries uncompressed)"
            )
        }
        let h = e.localHeaderOffset
        // Offsets come from the file: compare without adding, so a huge one cannot overflow.
        guard h >= 0, h <= bytes.count - 30,
            UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: h, as: UInt32.self)) == 0x0403_4B50
        else {
            throw .malformed(path: path, reason: "bad local header for '\(name)'")
        }
        let nameLength = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: h + 26, as: UInt16.self)))
        let extraLength = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: h + 28, as: UInt16.self)))
        let start = h + 30 + nameLength + extraLength
        guard start <= bytes.count, e.size <= bytes.count - start else {
            throw .malformed(path: path, reason: "zip entry '\(name)' is truncated")
        }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<(start + e.size)])
    }
}
