// EMA: the target encoder's update, target <- tau * target + (1 - tau) * online, for
// target_blocks <- blocks and target_norm <- norm (docs/NUMERICS.md §5.4, M2DViT.update_target_network).
// The pairs of tensors are matched by name once; each update is flat SIMD loops.
import M2DModel
import M2DTensor

struct EMA {
    /// (online offset, target offset, count) for every target tensor.
    let pairs: [(online: Int, target: Int, count: Int)]

    init(online: ParameterLayout, target: ParameterLayout) {
        pairs = target.entries.map { e in
            let name = e.name.replacingOccurrences(of: "target_blocks.", with: "blocks.")
                .replacingOccurrences(of: "target_norm.", with: "norm.")
            return (online.entry(name).offset, e.offset, e.shape.count)
        }
    }

    func update(online: FloatBuffer, target: FloatBuffer, tau: Float) {
        for pair in pairs {
            let src = online.pointer + pair.online, dst = target.pointer + pair.target
            Parallel.forRanges(pair.count, grain: 1 << 16) { part in
                var i = part.lowerBound
                while i + 8 <= part.upperBound {
                    let d = UnsafeMutableRawPointer(dst + i)
                    let mixed =
                        tau * d.loadUnaligned(as: SIMD8<Float>.self) + (1 - tau)
                        * UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
                    d.storeBytes(of: mixed, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < part.upperBound { dst[i] = tau * dst[i] + (1 - tau) * src[i]; i += 1 }
            }
        }
    }
}
