// FloatBuffer: the one owner of Float storage (64-byte aligned, allocated once, freed in deinit).
// Views (`Tensor`) point into it and never outlive it. Must not import anything model-specific.
import Foundation

/// An owned, 64-byte aligned, zero-initialised block of `count` Floats.
///
///     let buffer = FloatBuffer(count: 1024)
///     let t = buffer.view(shape: [32, 32])
public final class FloatBuffer: @unchecked Sendable {
    // SAFETY: @unchecked Sendable because the buffer is only mutated by its single owner at a time
    // (an encoder workspace belongs to one worker thread; weights are read-only after load).
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// Bytes mapped by `init(zeroPages:)`; 0 for heap buffers.
    private let mappedBytes: Int

    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        memset(raw, 0, bytes)
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        mappedBytes = 0
    }

    /// `count` Floats of fresh zero pages mapped from the kernel: none is resident until written,
    /// so a loader that fills a part and hands it on (releasing its pages) never holds the whole.
    public init(zeroPages count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED
        else {
            fatalError("out of memory mapping \(bytes) bytes")
        }
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        mappedBytes = bytes
    }

    /// Copies `values` into a new buffer (edges only: tests, small tables).
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit {
        if mappedBytes > 0 { munmap(pointer, mappedBytes) } else { free(pointer) }
    }

    /// A view of `shape` starting `offset` floats into the buffer.
    public func view(offset: Int = 0, shape: Shape) -> Tensor {
        precondition(
            offset >= 0 && offset + shape.count <= count,
            "view \(shape) at offset \(offset) exceeds buffer of \(count)")
        return Tensor(base: pointer + offset, shape: shape)
    }

    public func zero() { memset(pointer, 0, count * MemoryLayout<Float>.stride) }

    /// Copies out to an array (edges only).
    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
