// Tensor: a non-owning, row-major contiguous view into a FloatBuffer (or an mmap'd region).

/// A view: base pointer + shape. Cheap to copy; valid only while its owner is alive.
public struct Tensor: @unchecked Sendable {
    // SAFETY: a view carries no ownership; its owner (FloatBuffer or mapped file) outlives it and
    // access is serialised by whoever owns that storage.
    public let base: UnsafeMutablePointer<Float>
    public let shape: Shape

    public init(base: UnsafeMutablePointer<Float>, shape: Shape) {
        self.base = base
        self.shape = shape
    }

    public var count: Int { shape.count }

    /// Row `i` of the outermost dimension, as a view with the remaining dimensions.
    public func row(_ i: Int) -> Tensor {
        let inner = Shape(Array(shape.dims.dropFirst()))
        precondition(i >= 0 && i < shape[0], "row \(i) out of range for \(shape)")
        return Tensor(base: base + i * inner.count, shape: inner)
    }

    /// The same storage seen with another shape of equal element count.
    public func reshaped(_ newShape: Shape) -> Tensor {
        precondition(newShape.count == shape.count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(base: base, shape: newShape)
    }

    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy \(other.shape) into \(shape)")
        base.update(from: other.base, count: count)
    }
}
