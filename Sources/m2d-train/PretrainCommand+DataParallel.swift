// The data-parallel side of `m2d-train pretrain` (docs/DATA-PARALLEL.md): under mpirun every rank runs this
// command; before any training they check that they agree, and any rank's error stops all of them.
import ArgumentParser
import Foundation
import M2DTraining

extension PretrainCommand {
    /// Every rank must run the same data, checkpoint, run config and loop options (anything that changes
    /// which collectives run: --max-steps, --minutes, --resume, the save and log cadence): fingerprints of
    /// each, compared, the data first so that an MPMD launch on other data says so.
    func checkAgreement(_ config: PretrainConfig, _ audio: PretrainData, _ collective: any Collective) throws {
        guard collective.size > 1 else { return }
        var data = Fingerprint()
        for f in audio.files { data.add(f); data.add([0]) }
        let checkpointPath = PretrainRun.checkpoint(in: runDir)
        if resume && !FileManager.default.fileExists(atPath: checkpointPath) {
            throw ValidationError(
                "rank \(collective.rank) cannot see \(checkpointPath): every rank needs the run folder on a "
                    + "filesystem they share (e.g. NFS) to resume")
        }
        let checkpoint = resume ? try Fingerprint.ofFile(checkpointPath) : 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys  // key order would otherwise differ between processes
        let flags = Fingerprint.of(String(decoding: try encoder.encode(config), as: UTF8.self))
        let loop = Fingerprint.of(
            "\(maxSteps ?? -1) \(minutes ?? -1) \(resume) \(saveEvery) \(keepEvery ?? -1) \(logEvery) \(backend) "
                + "\(overlap)")
        do {
            try collective.requireAgreement(
                [data.value, checkpoint, flags, loop],
                names: ["the data", "the checkpoint", "the flags (run config)", "the loop flags (--max-steps, "
                    + "--minutes, --resume, --save-every, --keep-every, --log-every, --backend, --overlap)"])
        } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let collective: MPICollective?
        do { collective = try MPICollective.fromEnvironment() } catch { throw ValidationError("\(error)") }
        guard let collective else {
            let run = try makeRun()
            let stop = StopFlag()
            _ = try run.run(shouldStop: { stop.isSet })
            return
        }
        do {
            let run = try makeRun(collective: collective)
            let stop = StopFlag()
            _ = try run.run(shouldStop: { stop.isSet })
        } catch {
            // One rank's error must stop every rank, not leave them blocked in a collective.
            collective.abort("\(error)")
        }
        collective.finalize()
    }
}

enum OverlapMode: String, ExpressibleByArgument, CaseIterable {
    case auto, on, off
    func resolved(ranksPerHost: Int) -> Bool { self == .on || (self == .auto && ranksPerHost == 1) }
}

/// Ranks on this host (Open MPI's local size); 1 for one process.
func ranksPerHost(_ collective: any Collective) -> Int {
    guard collective.size > 1 else { return 1 }
    return ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? collective.size
}
