// Masking: the per-sample patch masks of pre-training (docs/MASKING.md): M2D's random
// masking, data2vec 2.0's inverse block masking (IBM) and dispersion-weighted masking (DWM), with
// the hint-ratio curriculum of the upstream code (set_hint_ratio_by_epoch): h(e) = 1 before the
// start epoch, then 1 - (e/E)^k, or a constant. h >= 1 means plain random masking for every
// strategy. Every draw comes from the caller's seeded Rng and masks exactly L - int(L(1-r))
// patches per sample.
import Foundation
import M2DTensor

public enum MaskingStrategy: String, Codable, Sendable, CaseIterable {
    case random
    case inverseBlock = "inverse-block"
    case dwm
}

public struct MaskingConfig: Codable, Sendable, Equatable {
    public var strategy: MaskingStrategy = .random
    /// k of the hint schedule h(e) = 1 - (e/E)^k.
    public var hintK = 2.0
    /// Epochs of random masking before the strategy starts (upstream default 50).
    public var startEpoch = 50
    /// A constant hint ratio instead of the schedule (upstream --abs_hint_ratio).
    public var constantHintRatio: Double?
    /// IBM block side w and the centre-count adjustment a (data2vec 2.0: 5 and 0.07).
    public var blockSize = 5
    public var blockAdjust = 0.07

    public init(
        strategy: MaskingStrategy = .random, hintK: Double = 2, startEpoch: Int = 50, constantHintRatio: Double? = nil
    ) {
        self.strategy = strategy
        self.hintK = hintK
        self.startEpoch = startEpoch
        self.constantHintRatio = constantHintRatio
    }

    /// The hint ratio of epoch `epoch` of `epochs`.
    public func hintRatio(epoch: Int, epochs: Int) -> Double {
        if let constantHintRatio { return constantHintRatio }
        if epoch < startEpoch { return 1 }
        return 1 - Foundation.pow(Double(epoch) / Double(max(epochs, 1)), hintK)
    }
}

public enum Masking {
    /// One mask per sample of `input` (B, F*16, T*16) normalized log-mel crops on an F x T grid.
    public static func draw(
        _ config: MaskingConfig, input: UnsafePointer<Float>, batch B: Int, freqPatches F: Int, timePatches T: Int,
        patchSize: (height: Int, width: Int), ratio: Double, epoch: Int, epochs: Int, rng: inout Rng
    ) -> [PatchMask] {
        let h = config.hintRatio(epoch: epoch, epochs: epochs), L = F * T
        if config.strategy == .random || h >= 1 {
            return RandomMasking.draw(batch: B, patches: L, ratio: ratio, rng: &rng)
        }
        let frames = T * patchSize.width, sampleCount = F * patchSize.height * frames
        return (0..<B).map { b in
            switch config.strategy {
            case .inverseBlock:
                return InverseBlockMasking.draw(
                    freqPatches: F, timePatches: T, ratio: ratio, blockSize: config.blockSize,
                    adjust: config.blockAdjust, rng: &rng)
            case .dwm, .random:
                let weights = DispersionMasking.meanAbsoluteDeviation(
                    input + b * sampleCount, freqPatches: F, timePatches: T,
                    patchHeight: patchSize.height, patchWidth: patchSize.width)
                return DispersionMasking.draw(weights: weights, ratio: ratio, hintRatio: h, rng: &rng)
            }
        }
    }

    /// A uniformly random subset of `count` elements of `pool`, in random order.
    static func sample(_ pool: [Int], count: Int, rng: inout Rng) -> [Int] {
        var items = pool
        for i in 0..<min(count, items.count) { items.swapAt(i, Int.random(in: i..<items.count, using: &rng)) }
        return Array(items.prefix(count))
    }
}
