// SafeTensorsWriter: writes tensors + string metadata as .safetensors, atomically
// (temporary file in the same directory, fsync, rename), so a crash never leaves a torn file.
import Foundation
import M2DTensor

public struct SafeTensorsWriter {
    private var entries: [(name: String, dtype: DType, shape: Shape, bytes: Data)] = []
    public var metadata: [String: String] = [:]

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    /// Adds `values` (count == shape.count) stored as `dtype` (F32, or rounded to F16/BF16).
    public mutating func add(_ name: String, shape: Shape, values: UnsafePointer<Float>, dtype: DType = .f32) {
        let n = shape.count
        var data = Data(count: n * dtype.byteSize)
        data.withUnsafeMutableBytes { raw in
            switch dtype {
            case .f32:
                for i in 0..<n {
                    raw.storeBytes(of: values[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
            case .f16:
                for i in 0..<n {
                    raw.storeBytes(
                        of: HalfPrecision.f16FromFloat(values[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                }
            case .bf16:
                for i in 0..<n {
                    raw.storeBytes(
                        of: HalfPrecision.bf16FromFloat(values[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                }
            }
        }
        entries.append((name, dtype, shape, data))
    }

    public mutating func add(_ name: String, shape: Shape, array: [Float], dtype: DType = .f32) {
        precondition(array.count == shape.count, "\(name): \(array.count) values for shape \(shape)")
        array.withUnsafeBufferPointer { add(name, shape: shape, values: $0.baseAddress!, dtype: dtype) }
    }

    /// The serialized file.
    public func serialized() throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        let sorted = entries.sorted { $0.name < $1.name }
        for e in sorted {
            header[e.name] = [
                "dtype": e.dtype.rawValue, "shape": e.shape.dims, "data_offsets": [offset, offset + e.bytes.count],
            ]
            offset += e.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        for e in sorted { out.append(e.bytes) }
        return out
    }

    /// Writes atomically to `path`.
    public func write(to path: String) throws {
        try AtomicFile.write(try serialized(), to: path)
    }
}

/// Atomic whole-file writes: temp file beside the target, fsync, rename, fsync the directory.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CheckpointError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        var ok = data.withUnsafeBytes { raw -> Bool in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        let reason = String(cString: strerror(errno))
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw CheckpointError.writeFailed(path: path, reason: reason)
        }
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}
