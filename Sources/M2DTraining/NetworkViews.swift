// NetworkViews: every tensor of the M2D network as a pointer into its flat buffer, resolved once
// when the network is made, so a training step never looks a name up.
import M2DModel
import M2DTensor

/// The trainable tensors (online encoder and predictor) inside one buffer laid out by the
/// trainable layout: the parameters, or their gradients.
struct TrainableViews {
    let clsToken, maskToken: UnsafeMutablePointer<Float>
    let patch, norm, decoderEmbed, decoderNorm, decoderPred: WeightAndBias
    let blocks, decoderBlocks: [BlockParameters]

    init(_ layout: ParameterLayout, _ buffer: FloatBuffer, _ c: M2DNetworkConfig) {
        func at(_ name: String) -> UnsafeMutablePointer<Float> { buffer.pointer + layout.entry(name).offset }
        clsToken = at("cls_token")
        maskToken = at("mask_token")
        patch = WeightAndBias(at, "patch_embed.proj")
        norm = WeightAndBias(at, "norm")
        decoderEmbed = WeightAndBias(at, "decoder_embed")
        decoderNorm = WeightAndBias(at, "decoder_norm")
        decoderPred = WeightAndBias(at, "decoder_pred")
        let e = c.encoder
        blocks = (0..<e.depth).map {
            BlockParameters(base: at("blocks.\($0).norm1.weight"), D: e.embedDim, hidden: e.mlpHidden)
        }
        decoderBlocks = (0..<c.decoderDepth).map {
            BlockParameters(base: at("decoder_blocks.\($0).norm1.weight"), D: c.decoderDim, hidden: 4 * c.decoderDim)
        }
    }
}

/// The frozen position embeddings and the EMA target encoder.
struct FixedViews {
    let posEmbed, decoderPosEmbed: UnsafeMutablePointer<Float>
    let targetBlocks: [BlockParameters]
    let targetNorm: WeightAndBias?

    init(
        frozen: ParameterLayout, _ frozenValues: FloatBuffer, target: ParameterLayout, _ targetValues: FloatBuffer,
        _ c: M2DNetworkConfig
    ) {
        posEmbed = frozenValues.pointer + frozen.entry("pos_embed").offset
        decoderPosEmbed = frozenValues.pointer + frozen.entry("decoder_pos_embed").offset
        let e = c.encoder, hasTarget = c.method == .m2d
        func at(_ name: String) -> UnsafeMutablePointer<Float> { targetValues.pointer + target.entry(name).offset }
        targetBlocks =
            hasTarget
            ? (0..<e.depth).map {
                BlockParameters(base: at("target_blocks.\($0).norm1.weight"), D: e.embedDim, hidden: e.mlpHidden)
            }
            : []
        targetNorm = hasTarget ? WeightAndBias(at, "target_norm") : nil
    }
}

/// A layer's `<prefix>.weight` and `<prefix>.bias`.
struct WeightAndBias {
    let weight, bias: UnsafeMutablePointer<Float>

    init(_ at: (String) -> UnsafeMutablePointer<Float>, _ prefix: String) {
        weight = at(prefix + ".weight")
        bias = at(prefix + ".bias")
    }
}
