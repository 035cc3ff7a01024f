// MPICollective: the Collective of an `mpirun -np N m2d-train pretrain ...` run, over Open MPI (Sources/CMPI).
// Without mpirun (no OMPI_COMM_WORLD_SIZE in the environment) m2d-train runs as one process, as before. Every
// MPI call runs on one serial queue (MPI_THREAD_SERIALIZED), so a started sum proceeds there while the
// trainer's thread goes on with the encoder's backward pass.
import CMPI
import Foundation
import M2DTraining

final class MPICollective: Collective {
    let rank: Int
    let size: Int
    private let queue: DispatchQueue

    private init(rank: Int, size: Int, queue: DispatchQueue) {
        self.rank = rank
        self.size = size
        self.queue = queue
    }

    /// A pointer handed to the MPI queue; the trainer does not touch the values until `finishSums`.
    private struct Values: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Float>
    }

    /// The job's collective when started by mpirun, nil otherwise; a clear error when this m2d-train was
    /// built without Open MPI.
    static func fromEnvironment() throws -> MPICollective? {
        let env = ProcessInfo.processInfo.environment
        guard let worldSize = env["OMPI_COMM_WORLD_SIZE"] ?? env["PMIX_RANK"].map({ _ in "?" }) else { return nil }
        guard m2d_mpi_built() == 1 else {
            throw LaunchError(
                "mpirun started this m2d-train (world size \(worldSize)), but it was built without Open MPI: "
                    + "install Debian's libopenmpi-dev and openmpi-bin, then rebuild (make build)")
        }
        let queue = DispatchQueue(label: "m2d-mpi")
        let (rank, size) = queue.sync {
            var rank: Int32 = 0, size: Int32 = 1
            m2d_mpi_init(&rank, &size)
            return (Int(rank), Int(size))
        }
        return MPICollective(rank: rank, size: size, queue: queue)
    }

    func sum(_ values: UnsafeMutablePointer<Float>, count: Int) { queue.sync { m2d_mpi_sum_float(values, count) } }
    func sum(_ values: UnsafeMutablePointer<Double>, count: Int) { queue.sync { m2d_mpi_sum_double(values, count) } }
    func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, root: Int) {
        queue.sync { m2d_mpi_broadcast(bytes, count, Int32(root)) }
    }
    func gather(_ values: [UInt64]) -> [UInt64] {
        var out = [UInt64](repeating: 0, count: values.count * size)
        queue.sync {
            values.withUnsafeBufferPointer { v in
                out.withUnsafeMutableBufferPointer { m2d_mpi_gather_u64(v.baseAddress!, $0.baseAddress!, values.count) }
            }
        }
        return out
    }
    func startSum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let handed = Values(pointer: values)
        queue.async { m2d_mpi_sum_float(handed.pointer, count) }
    }
    func finishSums() { queue.sync {} }

    /// Stops every rank with `message` on stderr (a rank that fails alone must not leave the others waiting).
    func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("m2d-train rank \(rank): \(message)\n".utf8))
        m2d_mpi_abort(1)
        exit(1)
    }

    func finalize() { queue.sync { m2d_mpi_finalize() } }
}

struct LaunchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
