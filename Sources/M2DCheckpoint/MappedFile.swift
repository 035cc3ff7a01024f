// MappedFile: a read-only mmap of a whole file, unmapped in deinit.
import Foundation

public final class MappedFile: @unchecked Sendable {
    // SAFETY: the mapping is read-only (PROT_READ) and immutable for the object's lifetime.
    public let base: UnsafeRawPointer
    public let size: Int
    public let path: String

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CheckpointError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw CheckpointError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw CheckpointError.cannotOpen(path: path, reason: "is a directory")
        }
        size = Int(st.st_size)
        guard size > 0 else { throw CheckpointError.malformed(path: path, reason: "file is empty") }
        guard let ptr = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), ptr != MAP_FAILED else {
            throw CheckpointError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(ptr)
    }

    /// Drops the resident pages wholly inside [offset, offset + length) once a caller has copied
    /// them out, so loading a model never holds the file and its copy in memory at once. The
    /// mapping is private and never written, so a later read faults the same bytes back in.
    public func releasePages(offset: Int, length: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base) + offset
        let from = (start + page - 1) / page * page, to = (start + length) / page * page
        if to > from { madvise(UnsafeMutableRawPointer(bitPattern: from), to - from, MADV_DONTNEED) }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }
}
