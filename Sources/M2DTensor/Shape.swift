// Shape: dimensions of a row-major contiguous tensor.

/// Row-major dimensions, outermost first.
public struct Shape: Equatable, Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }
    public init(arrayLiteral elements: Int...) { self.dims = elements }

    public var count: Int { dims.reduce(1, *) }
    public var rank: Int { dims.count }
    public subscript(_ i: Int) -> Int { dims[i] }
    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}
