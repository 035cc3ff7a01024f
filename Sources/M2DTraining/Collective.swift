// Collective: the processes of a data-parallel pre-training run (docs/DATA-PARALLEL.md). One process is
// SingleProcess; `m2d-train` under mpirun passes its Open MPI implementation (Sources/m2d-train), so the
// library, the server and their tests never link MPI. Every rank calls every operation in the same order.
import Foundation

public protocol Collective: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Sums `count` floats over the ranks in place; every rank ends with the same values.
    func sum(_ values: UnsafeMutablePointer<Float>, count: Int)
    func sum(_ values: UnsafeMutablePointer<Double>, count: Int)
    /// Copies rank `root`'s bytes to every rank.
    func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, root: Int)
    /// Every rank's `values` (the same count on each), rank-major.
    func gather(_ values: [UInt64]) -> [UInt64]
    /// Starts summing `values` in place and returns at once when the implementation can overlap the sum with
    /// the caller's work; the values must not be touched until `finishSums`.
    func startSum(_ values: UnsafeMutablePointer<Float>, count: Int)
    /// Waits for every started sum.
    func finishSums()
}

extension Collective {
    public var isLeader: Bool { rank == 0 }

    /// Without a communication thread a started sum is a blocking one.
    public func startSum(_ values: UnsafeMutablePointer<Float>, count: Int) { sum(values, count: count) }
    public func finishSums() {}

    /// Waits until every rank arrives.
    public func barrier() {
        var token = 0.0
        sum(&token, count: 1)
    }

    public func broadcast(_ values: UnsafeMutablePointer<Float>, count: Int, root: Int = 0) {
        broadcast(UnsafeMutableRawPointer(values), count: count * MemoryLayout<Float>.stride, root: root)
    }

    /// Rank `root`'s value of an integer.
    public func broadcast(_ value: Int, root: Int = 0) -> Int {
        var v = Int64(value)
        broadcast(&v, count: MemoryLayout<Int64>.size, root: root)
        return Int(v)
    }

    /// True on every rank when any rank passes true (a stop request reaches all of them at the same step).
    public func any(_ flag: Bool) -> Bool {
        var value = flag ? 1.0 : 0.0
        sum(&value, count: 1)
        return value > 0
    }

    /// Fails on every rank, naming the difference, unless all ranks pass the same fingerprints; `names`
    /// says what each fingerprint covers (e.g. "the flags", "the data").
    public func requireAgreement(_ fingerprints: [UInt64], names: [String]) throws(CollectiveMismatch) {
        let all = gather(fingerprints), n = fingerprints.count
        for r in 1..<max(size, 1) {
            for i in 0..<n where all[r * n + i] != all[i] {
                throw CollectiveMismatch(rank: r, what: names[i])
            }
        }
    }
}

public struct CollectiveMismatch: Error, CustomStringConvertible {
    public let rank: Int
    public let what: String
    public var description: String {
        "rank \(rank) disagrees with rank 0 on \(what); start every rank with the same command, data and run folder"
    }
}

/// A run of one process: every operation is the identity.
public final class SingleProcess: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {}
    public func sum(_ values: UnsafeMutablePointer<Double>, count: Int) {}
    public func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, root: Int) {}
    public func gather(_ values: [UInt64]) -> [UInt64] { values }
}

/// FNV-1a, 64 bit: a fingerprint for checking that ranks agree (not a security hash).
public struct Fingerprint {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    public init() {}
    public mutating func add(_ bytes: some Sequence<UInt8>) {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x100_0000_01B3 }
    }
    public mutating func add(_ text: String) { add(text.utf8) }
    /// A file's fingerprint, read in 4 MB pieces (a ViT-Base checkpoint is over a gigabyte).
    public static func ofFile(_ path: String) throws -> UInt64 {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        var f = Fingerprint()
        while let piece = try handle.read(upToCount: 4 << 20), !piece.isEmpty { f.add(piece) }
        return f.value
    }
    public static func of(_ text: String) -> UInt64 {
        var f = Fingerprint()
        f.add(text)
        return f.value
    }
}
