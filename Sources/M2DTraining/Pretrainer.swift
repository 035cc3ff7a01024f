// Pretrainer: the M2D pre-training loop (docs/NUMERICS.md §5): per step, a batch of random crops from a
// shuffled epoch order, one random mask per sample, forward + backward, optional gradient clipping,
// AdamW at the scheduled lr, EMA at the scheduled tau. Every random draw derives from (seed, epoch)
// or (seed, step), so a resumed run repeats an uninterrupted one bit for bit. Checkpoints are
// atomic safetensors with every tensor, the AdamW moments and the run state. Data-parallel (a Collective of
// N ranks): every rank draws the whole global batch's crops and masks in the single-process order, runs
// forward and backward on its own B/N samples, and the gradients are summed over the ranks in buckets and
// scaled by 1/N, so every rank applies the same AdamW step and EMA update (docs/DATA-PARALLEL.md).
import Foundation
import M2DCheckpoint
import M2DModel
import M2DTensor

public struct PretrainConfig: Codable, Sendable, Equatable {
    public var network: M2DNetworkConfig
    public var epochs = 300
    public var batchSize = 512
    public var learningRate = 2.4e-3
    public var minLearningRate = 0.0
    public var warmupEpochs = 20.0
    public var clipGrad: Double?
    public var emaStart = 0.99995
    public var emaEnd = 0.99999
    public var seed: UInt64 = 3
    public var normDraws = 5000
    public var masking = MaskingConfig()

    public init(network: M2DNetworkConfig) { self.network = network }

    /// Checkpoints written before masking strategies existed have no `masking`: random.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        network = try c.decode(M2DNetworkConfig.self, forKey: .network)
        epochs = try c.decode(Int.self, forKey: .epochs)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        minLearningRate = try c.decode(Double.self, forKey: .minLearningRate)
        warmupEpochs = try c.decode(Double.self, forKey: .warmupEpochs)
        clipGrad = try c.decodeIfPresent(Double.self, forKey: .clipGrad)
        emaStart = try c.decode(Double.self, forKey: .emaStart)
        emaEnd = try c.decode(Double.self, forKey: .emaEnd)
        seed = try c.decode(UInt64.self, forKey: .seed)
        normDraws = try c.decode(Int.self, forKey: .normDraws)
        masking = try c.decodeIfPresent(MaskingConfig.self, forKey: .masking) ?? MaskingConfig()
    }
}

public struct StepRecord: Sendable {
    public var step: Int, epoch: Int, loss: Double, lr: Double, tau: Double, gradNorm: Double, seconds: Double
    /// Time in the gradient and loss all-reduce (0 for one process).
    public var commSeconds = 0.0
}

public final class Pretrainer {
    public let config: PretrainConfig
    public let data: PretrainData
    public let network: M2DNetwork
    public private(set) var optimizer: AdamW
    public private(set) var step = 0
    public var normStats: (mean: Float, std: Float)
    public let stepsPerEpoch: Int
    public let collective: any Collective
    /// Floats per all-reduce call: large enough to amortize the call, small enough to stay in cache.
    public static let bucketFloats = 1 << 20
    /// Start reducing each part of the gradients as the backward pass finishes it (false: after the pass).
    public var overlapsReduction = true
    /// The current epoch's file order (drawn once per epoch) and the batch buffer (made once).
    private var order: (epoch: Int, files: [Int])?
    private var batch: FloatBuffer?

    /// `normStats` skips drawing the statistics again when a caller already has this run's (same
    /// config, same data, so the same draws).
    public init(
        config: PretrainConfig, data: PretrainData, normStats known: (mean: Float, std: Float)? = nil,
        engine: GEMMEngine = .openBLAS, collective: any Collective = SingleProcess()
    ) {
        precondition(config.batchSize % collective.size == 0, "the global batch must split evenly over the ranks")
        self.config = config
        self.data = data
        self.collective = collective
        network = M2DNetwork(config: config.network, engine: engine)
        network.initialize(seed: config.seed)
        optimizer = AdamW(layout: network.trainable)
        stepsPerEpoch = max(1, max(data.files.count, config.batchSize) / config.batchSize)
        if let known {
            normStats = known
        } else if collective.isLeader {
            var rng = Rng(seed: config.seed ^ 0x6E6F726D)
            normStats = data.normStats(draws: config.normDraws, length: config.network.encoder.chunkFrames, rng: &rng)
        } else {
            normStats = (0, 1)
        }
        synchronize()
    }

    /// Rank 0's norm stats, parameters and target to every rank (the seeded init is equal anyway; this makes
    /// it certain, and carries a restored checkpoint's state).
    func synchronize() {
        guard collective.size > 1 else { return }
        var stats: [Float] = [normStats.mean, normStats.std]
        stats.withUnsafeMutableBufferPointer { collective.broadcast($0.baseAddress!, count: 2) }
        normStats = (stats[0], stats[1])
        collective.broadcast(network.params.pointer, count: network.params.count)
        collective.broadcast(network.targetValues.pointer, count: network.targetValues.count)
    }

    /// Starts summing `range` of the gradients over the ranks, in buckets.
    private func startReducing(_ range: Range<Int>) {
        let g = network.grads.pointer
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = min(Self.bucketFloats, range.upperBound - offset)
            collective.startSum(g + offset, count: count)
            offset += count
        }
    }

    /// Waits for the sums, then scales the gradients to the ranks' mean; returns the seconds spent waiting
    /// (the communication the backward pass did not hide).
    private func finishAveraging() -> Double {
        guard collective.size > 1 else { return 0 }
        let start = Date()
        if !overlapsReduction { startReducing(0..<network.grads.count) }
        collective.finishSums()
        let g = network.grads.pointer, scale = 1 / Float(collective.size)
        for i in 0..<network.grads.count { g[i] *= scale }
        return Date().timeIntervalSince(start)
    }

    public var totalSteps: Int { stepsPerEpoch * config.epochs }

    /// The file indices of an epoch: a seeded shuffle, repeated to fill at least one batch; drop_last.
    func epochOrder(_ epoch: Int) -> [Int] {
        var rng = Rng(seed: config.seed &+ 0x9E37_79B9 &* UInt64(epoch + 1))
        var order: [Int] = []
        while order.count < config.batchSize { order += Array(0..<data.files.count) }
        order.shuffle(using: &rng)
        return Array(order.prefix(stepsPerEpoch * config.batchSize))
    }

    /// Runs one optimizer step; returns its record.
    public func trainStep() -> StepRecord {
        let start = Date()
        let epoch = step / stepsPerEpoch, it = step % stepsPerEpoch
        let e = config.network.encoder, B = config.batchSize, U = e.chunkFrames
        if order?.epoch != epoch { order = (epoch, epochOrder(epoch)) }
        let files = order!.files
        var rng = Rng(seed: config.seed ^ (0xA5A5_5A5A_1234 &+ UInt64(step) &* 0x100_0000_01B3))
        if batch == nil { batch = FloatBuffer(count: B * e.nMels * U) }
        let batch = self.batch!
        for b in 0..<B {
            data.crop(
                files[it * B + b], length: U, rng: &rng, mean: normStats.mean, std: normStats.std,
                into: batch.pointer + b * e.nMels * U)
        }
        let masks = Masking.draw(
            config.masking, input: batch.pointer, batch: B, freqPatches: e.freqPatches, timePatches: e.gridTimePatches,
            patchSize: (e.patchHeight, e.patchWidth), ratio: config.network.maskRatio, epoch: epoch,
            epochs: config.epochs, rng: &rng)
        network.grads.zero()
        // This rank's slice of the global batch: the loss is a mean over equal-sized samples, so the mean of
        // the ranks' losses and gradients is the single-process one.
        let share = B / collective.size, first = collective.rank * share
        // Each part of the gradients is summed over the ranks as soon as the backward pass has finished it.
        let overlap: ((Range<Int>) -> Void)? =
            collective.size > 1 && overlapsReduction ? { self.startReducing($0) } : nil
        var loss = network.lossAndGradients(
            input: batch.pointer + first * e.nMels * U, batch: share, masks: Array(masks[first..<(first + share)]),
            gradientsDone: overlap)
        var commSeconds = finishAveraging()
        if collective.size > 1 {
            let start = Date()
            collective.sum(&loss, count: 1)
            loss /= Double(collective.size)
            commSeconds += Date().timeIntervalSince(start)
        }
        var norm = 0.0
        for i in 0..<network.grads.count { norm += Double(network.grads.pointer[i]) * Double(network.grads.pointer[i]) }
        norm = norm.squareRoot()
        if let clip = config.clipGrad, norm > clip {
            let s = Float(clip / (norm + 1e-6))
            for i in 0..<network.grads.count { network.grads.pointer[i] *= s }
        }
        let fractionalEpoch = Double(epoch) + Double(it) / Double(stepsPerEpoch)
        let lr = Schedules.learningRate(
            epoch: fractionalEpoch, peak: config.learningRate, minLR: config.minLearningRate,
            warmupEpochs: config.warmupEpochs, epochs: Double(config.epochs))
        optimizer.update(params: network.params.pointer, grads: network.grads.pointer, lr: Float(lr))
        let tau = Schedules.ema(step: step, totalSteps: totalSteps, start: config.emaStart, end: config.emaEnd)
        network.updateTarget(tau: Float(tau))
        step += 1
        return StepRecord(
            step: step, epoch: epoch, loss: loss, lr: lr, tau: tau, gradNorm: norm,
            seconds: Date().timeIntervalSince(start), commSeconds: commSeconds)
    }

    // MARK: checkpoints

    public static let formatVersion = "m2d-train-checkpoint-1"

    public func save(to path: String) throws {
        var w = SafeTensorsWriter()
        for e in network.trainable.entries {
            w.add(e.name, shape: e.shape, values: network.params.pointer + e.offset)
            w.add("optim.exp_avg." + e.name, shape: e.shape, values: optimizer.m.pointer + e.offset)
            w.add("optim.exp_avg_sq." + e.name, shape: e.shape, values: optimizer.v.pointer + e.offset)
        }
        for e in network.frozen.entries {
            w.add(e.name, shape: e.shape, values: network.frozenValues.pointer + e.offset)
        }
        for e in network.target.entries {
            w.add(e.name, shape: e.shape, values: network.targetValues.pointer + e.offset)
        }
        w.add("norm_stats", shape: [2], array: [normStats.mean, normStats.std])
        let configJSON = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        w.metadata = [
            "format": Self.formatVersion, "step": "\(step)", "optimizer_step": "\(optimizer.step)",
            "config": configJSON, "variant": config.network.variantName,
            "masking": config.masking.strategy.rawValue,
            "files": "\(data.files.count)", "world_size": "\(collective.size)",
        ]
        try w.write(to: path)
    }

    /// Restores a checkpoint written by `save` with the same config.
    public func restore(from path: String) throws {
        let file = try SafeTensorsFile(path: path)
        guard file.metadata["format"] == Self.formatVersion, let step = file.metadata["step"].flatMap(Int.init),
            let optimizerStep = file.metadata["optimizer_step"].flatMap(Int.init)
        else {
            throw CheckpointError.malformed(
                path: path, reason: "not an m2d-train checkpoint (format \(file.metadata["format"] ?? "none"))")
        }
        if let json = file.metadata["config"],
            let saved = try? JSONDecoder().decode(PretrainConfig.self, from: Data(json.utf8)), saved != config
        {
            throw CheckpointError.malformed(
                path: path,
                reason: "the checkpoint was made with different settings; resume with the same flags (or none)")
        }
        for e in network.trainable.entries {
            try file.read(e.name, expecting: e.shape, into: network.params.pointer + e.offset)
            try file.read("optim.exp_avg." + e.name, expecting: e.shape, into: optimizer.m.pointer + e.offset)
            try file.read("optim.exp_avg_sq." + e.name, expecting: e.shape, into: optimizer.v.pointer + e.offset)
        }
        for e in network.target.entries {
            try file.read(e.name, expecting: e.shape, into: network.targetValues.pointer + e.offset)
        }
        let ranks = file.metadata["world_size"].flatMap(Int.init) ?? 1
        guard ranks == collective.size else {
            throw CheckpointError.malformed(
                path: path,
                reason: "the run was trained with \(ranks) rank(s) and is resumed with \(collective.size); "
                    + "resume with the same number (mpirun -np \(ranks))")
        }
        let stats = try file.array("norm_stats")
        normStats = (stats[0], stats[1])
        self.step = step
        optimizer.restoreStep(optimizerStep)
        synchronize()
    }

    /// The saved run configuration of a checkpoint.
    public static func savedConfig(_ path: String) throws -> PretrainConfig {
        let file = try SafeTensorsFile(path: path)
        guard let json = file.metadata["config"] else {
            throw CheckpointError.malformed(path: path, reason: "no run config in metadata")
        }
        return try JSONDecoder().decode(PretrainConfig.self, from: Data(json.utf8))
    }
}

extension AdamW {
    mutating func restoreStep(_ step: Int) { self.setStep(step) }
}
