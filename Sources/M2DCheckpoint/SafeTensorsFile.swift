// SafeTensorsFile: reads a memory-mapped .safetensors file (8-byte LE header length, JSON header,
// raw little-endian data) and widens F16/BF16 to F32 on request. Format: huggingface/safetensors.
import Foundation
import M2DTensor

public struct TensorInfo: Sendable, Equatable {
    public let dtype: DType
    public let shape: Shape
    /// Byte range inside the data section.
    public let begin: Int, end: Int
}

public final class SafeTensorsFile: @unchecked Sendable {
    // SAFETY: immutable after init; the mapping is read-only.
    public let path: String
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]
    private let file: MappedFile
    private let dataStart: Int

    public init(path: String) throws {
        file = try MappedFile(path: path)
        self.path = path
        guard file.size >= 8 else { throw CheckpointError.malformed(path: path, reason: "shorter than 8 bytes") }
        let declared = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
        guard declared > 1, declared <= UInt64(file.size - 8) else {
            throw CheckpointError.malformed(
                path: path, reason: "header length \(declared) does not fit a \(file.size)-byte file")
        }
        guard declared <= UInt64(SafeTensorsHeader.maxBytes) else {
            throw CheckpointError.malformed(
                path: path,
                reason: "header length \(declared) is over the \(SafeTensorsHeader.maxBytes >> 20) MiB limit")
        }
        let headerLength = Int(declared)
        dataStart = 8 + headerLength
        let header = UnsafeBufferPointer(
            start: file.base.assumingMemoryBound(to: UInt8.self) + 8, count: headerLength)
        let parsed: SafeTensorsHeader
        do {
            parsed = try SafeTensorsHeader(header, dataSize: file.size - dataStart)
        } catch let error as SafeTensorsHeader.Failure {
            throw CheckpointError.malformed(path: path, reason: error.reason)
        }
        let tensors = parsed.tensors, metadata = parsed.metadata, unsupported = parsed.unsupported
        self.tensors = tensors
        self.metadata = metadata
        self.unsupported = unsupported
    }

    private let unsupported: [String: String]

    public var keys: [String] { tensors.keys.sorted() }

    /// Shape of `key`, or nil when absent.
    public func shape(of key: String) -> Shape? { tensors[key]?.shape }

    /// Widens tensor `key` to F32 into `destination`, verifying its shape first.
    public func read(_ key: String, expecting expected: Shape, into destination: UnsafeMutablePointer<Float>) throws {
        if let dtype = unsupported[key] { throw CheckpointError.unsupportedDType(key: key, dtype: dtype) }
        guard let info = tensors[key] else { throw CheckpointError.missingKey(key: key, expected: expected) }
        guard info.shape == expected else {
            throw CheckpointError.shapeMismatch(key: key, expected: expected, actual: info.shape)
        }
        let src = file.base + dataStart + info.begin
        let n = info.shape.count
        switch info.dtype {
        case .f32:
            // SAFETY: byte range checked against the file in init; copy handles any alignment.
            memcpy(destination, src, n * 4)
        case .f16:
            for i in 0..<n {
                destination[i] = HalfPrecision.floatFromF16(
                    UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .bf16:
            for i in 0..<n {
                destination[i] = HalfPrecision.floatFromBF16(
                    UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        }
        file.releasePages(offset: dataStart + info.begin, length: n * info.dtype.byteSize)
    }

    /// Reads a whole tensor as [Float] (edges: tests, small tables). Shape is taken from the file.
    public func array(_ key: String) throws -> [Float] {
        guard let info = tensors[key] else {
            if let dtype = unsupported[key] { throw CheckpointError.unsupportedDType(key: key, dtype: dtype) }
            throw CheckpointError.missingKey(key: key, expected: [])
        }
        var out = [Float](repeating: 0, count: info.shape.count)
        try out.withUnsafeMutableBufferPointer { try read(key, expecting: info.shape, into: $0.baseAddress!) }
        return out
    }
}
