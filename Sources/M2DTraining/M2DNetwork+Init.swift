// Initialization of M2D-SPEC 5.5: xavier-uniform Linear and patch weights (patch on its [D, 256]
// view), zero Linear biases, patch bias U(+-1/sqrt(256)), cls_token and mask_token N(0, 0.02),
// LayerNorm 1 / 0; the target encoder gets its own independent init (not a copy).
import M2DModel
import M2DTensor

extension M2DNetwork {
    public func initialize(seed: UInt64) {
        var rng = Rng(seed: seed)
        func fill(_ name: String, _ shape: Shape, _ p: UnsafeMutablePointer<Float>) {
            let n = shape.count
            if name == "cls_token" || name == "mask_token" {
                for i in 0..<n { p[i] = 0.02 * rng.normal() }
            } else if name == "patch_embed.proj.bias" {
                let bound = 1 / Float(shape.count == 0 ? 1 : config.encoder.patchHeight * config.encoder.patchWidth).squareRoot()
                for i in 0..<n { p[i] = rng.uniform(-bound, bound) }
            } else if shape.rank >= 2 {
                let fanOut = shape[0], fanIn = n / shape[0]
                let bound = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
                for i in 0..<n { p[i] = rng.uniform(-bound, bound) }
            } else {
                let one: Float = name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name.hasSuffix("norm.weight") ? 1 : 0
                for i in 0..<n { p[i] = one }
            }
        }
        for e in trainable.entries { fill(e.name, e.shape, params.pointer + e.offset) }
        for e in target.entries { fill(e.name, e.shape, targetValues.pointer + e.offset) }
    }

    /// The online encoder as inference weights (export): official keys, frozen pos_embed.
    public func encoderWeights(normStats: [Float], name: String) -> EncoderWeights {
        var config = self.config.encoder
        config.normStats = normStats
        config.name = name
        let w = EncoderWeights(config: config)
        for e in w.layout.entries {
            (w.storage.pointer + e.offset).update(from: pointer(e.name), count: e.shape.count)
        }
        return w
    }
}
