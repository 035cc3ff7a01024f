// PyTorchCheckpoint: a torch.save zip file (data.pkl + data/<storage> entries) read without Python:
// the restricted Unpickler rebuilds the object tree, tensors stay references into the mmap'd file
// until `read` widens one (F32/F16/BF16/F64, any strides and storage offset) to Float.
import Foundation
import M2DTensor

public final class PyTorchCheckpoint: @unchecked Sendable {
    // SAFETY: immutable after init; the mapping is read-only.
    public let path: String
    public let root: PickleValue
    /// Keeps the bytes alive: a MappedFile, or an in-memory buffer.
    private let owner: AnyObject
    private let archive: ZipArchive
    private let prefix: String

    /// Memory-maps and parses the checkpoint at `path`.
    public convenience init(path: String) throws(CheckpointError) {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch let e as CheckpointError { throw e } catch {
            throw .cannotOpen(path: path, reason: "\(error)")
        }
        try self.init(owner: file, bytes: UnsafeRawBufferPointer(start: file.base, count: file.size), path: path)
    }

    /// Parses a checkpoint held in memory (`name` is used in error messages).
    public convenience init(bytes: [UInt8], name: String) throws(CheckpointError) {
        let box = ByteBox(bytes)
        try self.init(owner: box, bytes: UnsafeRawBufferPointer(start: box.pointer, count: bytes.count), path: name)
    }

    private init(owner: AnyObject, bytes: UnsafeRawBufferPointer, path: String) throws(CheckpointError) {
        self.path = path
        self.owner = owner
        archive = try ZipArchive(bytes: bytes, path: path)
        guard let pkl = archive.entries.keys.filter({ $0.hasSuffix("data.pkl") }).min(by: { $0.count < $1.count })
        else {
            throw .malformed(path: path, reason: "zip archive has no data.pkl: not a torch.save checkpoint")
        }
        prefix = String(pkl.dropLast("data.pkl".count))
        if archive.entries[prefix + "byteorder"] != nil {
            let text = String(decoding: try archive.data(prefix + "byteorder"), as: UTF8.self)
            if text.trimmingCharacters(in: .whitespacesAndNewlines) != "little" {
                throw .malformed(
                    path: path, reason: "checkpoint byte order is '\(text)'; only little-endian is supported")
            }
        }
        do { root = try Unpickler.load(try archive.data(pkl)) } catch let e as Unpickler.Failure {
            throw .malformed(path: path, reason: e.description)
        } catch let e as CheckpointError { throw e } catch {
            throw .malformed(path: path, reason: "\(error)")
        }
    }

    /// Every (name, tensor) of a state dict, in file order (non-tensor values skipped).
    public static func tensors(of dict: PickleValue) -> [(String, TensorReference)] {
        (dict.dictItems ?? []).compactMap { item in
            guard let key = item.key.string, case let .tensor(t) = item.value else { return nil }
            return (key, t)
        }
    }

    /// The element count of `t` once its storage is known to hold them: check this before allocating for a
    /// tensor whose shape came from the file.
    public func checkedCount(_ t: TensorReference, name: String) throws(CheckpointError) -> Int {
        let count = try verified(t, name: name).count
        guard count <= max(1, t.storageNumel) else {
            throw .malformed(path: path, reason: "tensor '\(name)' \(t.shape) is larger than its storage")
        }
        return count
    }

    /// Tensor `t` widened to Float, allocated only after `checkedCount`.
    public func array(_ t: TensorReference, name: String) throws(CheckpointError) -> [Float] {
        var values = [Float](repeating: 0, count: try checkedCount(t, name: name))
        try values.withUnsafeMutableBufferPointer { p throws(CheckpointError) in
            try read(t, name: name, into: p.baseAddress!)
        }
        return values
    }

    /// The storage of `t`, known to hold `storageNumel` elements, and the element count of its shape.
    private func verified(
        _ t: TensorReference, name: String
    ) throws(CheckpointError) -> (storage: UnsafeRawBufferPointer, count: Int) {
        let storage = try archive.data(prefix + "data/" + t.storageKey)
        let (needed, overflow) = t.storageNumel.multipliedReportingOverflow(by: t.dtype.byteSize)
        guard !overflow, storage.count >= needed else {
            throw .malformed(
                path: path,
                reason: "storage '\(t.storageKey)' of '\(name)' holds \(storage.count) bytes, needs \(needed)")
        }
        var count = 1
        for n in t.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard n >= 0, !overflow, product <= 1 << 34 else {
                throw .malformed(path: path, reason: "tensor '\(name)' is implausibly large \(t.shape)")
            }
            count = product
        }
        return (storage, count)
    }

    /// Widens tensor `t` (row-major order of its shape) into `destination`.
    public func read(
        _ t: TensorReference, name: String, into destination: UnsafeMutablePointer<Float>
    ) throws(CheckpointError) {
        guard t.dtype.isFloatingPoint else {
            throw .unsupportedDType(key: name, dtype: t.dtype.rawValue)
        }
        let (storage, count) = try verified(t, name: name)
        let rank = t.shape.count
        var index = [Int](repeating: 0, count: rank)
        var offset = t.offset
        for i in 0..<count {
            // Damaged headers must not read outside the storage, whatever the strides claim.
            guard offset >= 0, offset < t.storageNumel else {
                throw .malformed(path: path, reason: "tensor '\(name)' reads outside its storage")
            }
            destination[i] = Self.element(storage, offset, t.dtype)
            // Advance the multi-index (last dimension fastest) and the storage offset with it.
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                offset += t.strides[d]
                if index[d] < t.shape[d] { break }
                offset -= t.strides[d] * t.shape[d]
                index[d] = 0
                d -= 1
            }
        }
    }

    @inline(__always)
    static func element(_ s: UnsafeRawBufferPointer, _ i: Int, _ dtype: TorchDType) -> Float {
        switch dtype {
        case .float32:
            return Float(bitPattern: UInt32(littleEndian: s.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .float16:
            return HalfPrecision.floatFromF16(
                UInt16(littleEndian: s.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        case .bfloat16:
            return HalfPrecision.floatFromBF16(
                UInt16(littleEndian: s.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        case .float64:
            return Float(
                Double(bitPattern: UInt64(littleEndian: s.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
        default: return 0
        }
    }
}

/// An owned copy of bytes with a stable address.
private final class ByteBox {
    let pointer: UnsafeMutableRawPointer
    init(_ bytes: [UInt8]) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 64)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { pointer.copyMemory(from: b, byteCount: bytes.count) } }
    }
    deinit { pointer.deallocate() }
}
