// ModelRegistry: what is being served: the embedding service once the model has loaded, its
// probe heads and its M2D-CLAP audio projection (both replaced on SIGHUP; requests in flight keep what they
// took), its M2D-CLAP text side and the model's hash.
import Crypto
import Foundation
import M2DModel
import M2DText

public final class ModelRegistry: @unchecked Sendable {
    // SAFETY: every field is guarded by `lock`.
    private let lock = NSLock()
    private var _service: EmbeddingService?
    private var _heads: [String: ProbeHead] = [:]
    private var _projection: AudioProjection?
    private var _text: TextService?
    private var _sha = ""

    public init() {}

    public var service: EmbeddingService? { lock.withLock { _service } }
    public var heads: [String: ProbeHead] { lock.withLock { _heads } }
    public var projection: AudioProjection? { lock.withLock { _projection } }
    public var text: TextService? { lock.withLock { _text } }
    public var modelSHA: String { lock.withLock { _sha } }

    func install(_ service: EmbeddingService, sha: String) {
        lock.withLock {
            _service = service; _sha = sha
        }
    }
    public func installExtras(heads: [String: ProbeHead], projection: AudioProjection?, text: TextService?) {
        lock.withLock {
            _heads = heads; _projection = projection; _text = text
        }
    }

    /// sha256 of a file, hex.
    static func sha256(path: String) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try? handle.read(upToCount: 1 << 22), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
