// Initialization of docs/NUMERICS.md §5.5 (OfficialInitialization); the target encoder gets its own
// independent init, not a copy of the online one.
import M2DModel
import M2DTensor

extension M2DNetwork {
    public func initialize(seed: UInt64) {
        var rng = Rng(seed: seed)
        let area = config.encoder.patchHeight * config.encoder.patchWidth
        for e in trainable.entries {
            OfficialInitialization.fill(e.name, e.shape, params.pointer + e.offset, patchArea: area, rng: &rng)
        }
        for e in target.entries {
            OfficialInitialization.fill(e.name, e.shape, targetValues.pointer + e.offset, patchArea: area, rng: &rng)
        }
    }
}
