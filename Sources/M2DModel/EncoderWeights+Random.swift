// Random encoder weights for benchmarks and tests: xavier-uniform matrices, random biases and
// LayerNorm affines (so a wrong order or missing term shows), and the fixed 2-D sin-cos pos_embed.
import Foundation
import M2DTensor

extension EncoderWeights {
    /// The official initialization (docs/NUMERICS.md §5.5), sin-cos positions included.
    public static func initialized(config: ModelConfig, seed: UInt64) -> EncoderWeights {
        let w = EncoderWeights(config: config)
        var rng = Rng(seed: seed)
        for e in w.layout.entries {
            let p = w.storage.pointer + e.offset
            if e.name == "pos_embed" {
                PositionEmbedding.fill(
                    p, embedDim: config.embedDim, gridHeight: config.freqPatches, gridWidth: config.gridTimePatches)
            } else {
                OfficialInitialization.fill(
                    e.name, e.shape, p, patchArea: config.patchHeight * config.patchWidth, rng: &rng)
            }
        }
        return w
    }

    /// Random weights with non-trivial LayerNorm affines and biases, for tests and benchmarks.
    public static func random(config: ModelConfig, seed: UInt64) -> EncoderWeights {
        let w = EncoderWeights(config: config)
        var rng = Rng(seed: seed)
        for e in w.layout.entries {
            let t = w.storage.view(offset: e.offset, shape: e.shape)
            if e.name == "pos_embed" {
                PositionEmbedding.fill(
                    t.base, embedDim: config.embedDim, gridHeight: config.freqPatches,
                    gridWidth: config.gridTimePatches)
                continue
            }
            let isMatrix = e.shape.rank >= 2 && e.name.hasSuffix("weight")
            if isMatrix {
                let fanOut = e.shape[0], fanIn = e.shape.count / e.shape[0]
                let bound = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
                for i in 0..<t.count { t.base[i] = rng.uniform(-bound, bound) }
            } else if e.name.contains("norm"), e.name.hasSuffix("weight") {
                for i in 0..<t.count { t.base[i] = 1 + 0.1 * rng.normal() }
            } else {
                for i in 0..<t.count { t.base[i] = 0.02 * rng.normal() }
            }
        }
        return w
    }
}

/// The fixed 2-D sin-cos position embedding (docs/NUMERICS.md §2.4, m2d/pos_embed.py), CLS row zero.
public enum PositionEmbedding {
    /// Fills (1 + gridHeight*gridWidth, embedDim): first half encodes time w, second half frequency h;
    /// within each half sin block then cos block, omega_k = 10000^(-k/(D/4)).
    public static func fill(_ out: UnsafeMutablePointer<Float>, embedDim D: Int, gridHeight gH: Int, gridWidth gW: Int)
    {
        let quarter = D / 4
        for d in 0..<D { out[d] = 0 }
        for h in 0..<gH {
            for w in 0..<gW {
                let row = out + (1 + h * gW + w) * D
                for (half, pos) in [(0, Double(w)), (1, Double(h))] {
                    for k in 0..<quarter {
                        let omega = 1.0 / pow(10000.0, Double(k) / Double(quarter))
                        row[half * 2 * quarter + k] = Float(sin(pos * omega))
                        row[half * 2 * quarter + quarter + k] = Float(cos(pos * omega))
                    }
                }
            }
        }
    }
}

/// One tensor's official initialization (docs/NUMERICS.md §5.5, MAE initialize_weights + M2D additions):
/// xavier-uniform for Linear and patch weights (the patch weight on its [D, ph*pw] view), zero
/// Linear biases, patch bias U(+-1/sqrt(ph*pw)) (the Conv2d default), cls_token / mask_token
/// N(0, 0.02), LayerNorm weight 1 and bias 0. Shared by inference-model init and the trainer.
public enum OfficialInitialization {
    public static func fill(
        _ name: String, _ shape: Shape, _ p: UnsafeMutablePointer<Float>, patchArea: Int, rng: inout Rng
    ) {
        let n = shape.count
        if name == "cls_token" || name == "mask_token" {
            for i in 0..<n { p[i] = 0.02 * rng.normal() }
        } else if name == "patch_embed.proj.bias" {
            let bound = 1 / Float(patchArea).squareRoot()
            for i in 0..<n { p[i] = rng.uniform(-bound, bound) }
        } else if shape.rank >= 2 {
            let fanOut = shape[0], fanIn = n / shape[0]
            let bound = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
            for i in 0..<n { p[i] = rng.uniform(-bound, bound) }
        } else {
            let isNormWeight =
                name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name.hasSuffix("norm.weight")
            for i in 0..<n { p[i] = isNormWeight ? 1 : 0 }
        }
    }
}
