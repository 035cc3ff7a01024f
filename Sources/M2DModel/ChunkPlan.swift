// ChunkPlan: how a (mels, T) log-mel is cut into encoder chunks (docs/NUMERICS.md §3.2, `encode_lms`):
// n_chunk = ceil(T/U) before padding; pad = (p - T mod U mod p) mod p zero frames at the end of the
// normalised log-mel; chunk i = frames [iU, (i+1)U); each chunk keeps floor(len/p) time patches.

public struct ChunkPlan: Sendable, Equatable {
    public struct Chunk: Sendable, Equatable {
        public let startFrame: Int
        public let timePatches: Int
    }

    public let frames: Int
    public let paddedFrames: Int
    public let chunks: [Chunk]
    /// Output frame (time patch) where chunk i's frames start.
    public let outputOffsets: [Int]

    public init(frames T: Int, chunkFrames U: Int, patchWidth p: Int) {
        precondition(T > 0 && U > 0 && p > 0)
        let count = (T + U - 1) / U
        let pad = (p - (T % U) % p) % p
        frames = T
        paddedFrames = T + pad
        let chunks = (0..<count).map { i in
            let start = i * U
            let length = min(U, T + pad - start)
            return Chunk(startFrame: start, timePatches: length / p)
        }
        self.chunks = chunks
        var offsets: [Int] = [], total = 0
        for chunk in chunks {
            offsets.append(total)
            total += chunk.timePatches
        }
        outputOffsets = offsets
        outputFrames = total
    }

    /// Output frames (time patches over all chunks).
    public let outputFrames: Int
}
