// `mpirun -np 2 m2d-train pretrain` (Open MPI, --oversubscribe, one thread per rank) against the same command
// in one process: per-step losses within 1e-3 relative, exported encoders that embed a clip with cosine
// >= 0.9999; only rank 0 prints; resume keeps the rank count; ranks that disagree refuse to start.
// The test process itself never links MPI: it starts mpirun.
import Foundation
import M2DCheckpoint
import Testing
import TestSupport

@Suite(.serialized) struct DataParallelTests {
    static let mpirun = "/usr/bin/mpirun"
    let flags = [
        "--preset", "tiny", "--frames", "64", "--epochs", "3", "--batch-size", "4", "--norm-draws", "50",
        "--lr", "1e-3", "--warmup-epochs", "1", "--log-every", "3", "--save-every", "1000", "--backend", "openblas",
    ]
    let oneThread = ["OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"]

    var binary: String { CommandRunner.productsDirectory.appendingPathComponent("m2d-train").path }

    /// mpirun's own flags: oversubscribe the 2 cores, one thread per rank, and root when CI runs as root.
    func mpi(_ np: Int) -> [String] {
        (getuid() == 0 ? ["--allow-run-as-root"] : []) + [
            "--oversubscribe", "-np", "\(np)", "-x", "OMP_NUM_THREADS=1", "-x", "OPENBLAS_NUM_THREADS=1",
            "--mca", "btl", "self,vader,tcp",
        ]
    }

    func losses(_ run: String) throws -> [Double] {
        let text = try String(contentsOfFile: run + "/metrics.csv", encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { Double($0.split(separator: ",")[2])! }
    }

    func clip(_ model: String) throws -> [Float] {
        let wav = Fixtures.golden + "/audio/five_sec_tone_noise.wav"
        let r = try CommandRunner.run("m2d-embed", ["--model", model, wav])
        #expect(r.status == 0, "\(r.stderr)")
        let line = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        return try #require((line["embedding"] as? [NSNumber])?.map(\.floatValue))
    }

    @Test func twoRanksReproduceOneProcess() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.mpirun) else {
            Issue.record("no \(Self.mpirun): make deps installs openmpi-bin")
            return
        }
        let root = Fixtures.temporaryDirectory()
        _ = try TestAudio.toneTask(in: root + "/audio", frequencies: [300, 900, 2500], train: 4, valid: false)
        let data = ["--data", root + "/audio"]
        let single = try CommandRunner.run(
            "m2d-train", ["pretrain", "--run", root + "/one"] + data + flags, environment: oneThread)
        #expect(single.status == 0, "\(single.stderr)")
        let two = try CommandRunner.run(
            executable: Self.mpirun, mpi(2) + [binary, "pretrain", "--run", root + "/two"] + data + flags)
        #expect(two.status == 0, "\(two.stderr)\n\(two.stdoutText)")
        #expect(two.stdoutText.contains("2 ranks (MPI), 2 clips per rank per step"), "\(two.stdoutText)")
        // Rank 0 alone prints the run line and the progress.
        #expect(two.stdoutText.components(separatedBy: "run \(root)/two:").count == 2)

        let a = try losses(root + "/one"), b = try losses(root + "/two")
        #expect(a.count == b.count && a.count >= 9, "\(a.count) and \(b.count) steps")
        for (i, (x, y)) in zip(a, b).enumerated() {
            #expect(abs(x - y) <= 1e-3 * abs(x), "step \(i + 1): one process \(x), two ranks \(y)")
        }
        #expect(try SafeTensorsFile(path: root + "/two/checkpoint-latest.safetensors").metadata["world_size"] == "2")
        // The sums overlapped with the backward pass (the default with one rank per host) give the same run.
        let overlapped = try CommandRunner.run(
            executable: Self.mpirun,
            mpi(2) + [binary, "pretrain", "--run", root + "/overlap", "--overlap", "on"] + data + flags)
        #expect(overlapped.status == 0 && overlapped.stdoutText.contains("overlapped with the backward: true"))
        // Every part of the weights, including those whose sums start mid-backward, ends where one process
        // puts it (a part reduced before its gradient was final would drift by far more).
        let reference = try SafeTensorsFile(path: root + "/one/checkpoint-latest.safetensors")
        for run in ["two", "overlap"] {
            let checkpoint = try SafeTensorsFile(path: root + "/\(run)/checkpoint-latest.safetensors")
            for name in [
                "cls_token", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "norm.weight", "mask_token",
                "decoder_embed.weight", "decoder_blocks.0.mlp.fc2.weight", "decoder_pred.weight",
            ] {
                let cmp = Numerics.compare(name, try checkpoint.array(name), try reference.array(name), atol: 1e-5)
                #expect(cmp.violations == 0, "\(run): \(cmp)")
            }
        }
        for run in ["one", "two"] {
            let r = try CommandRunner.run("m2d-train", ["export", root + "/" + run, "--out", root + "/\(run)-model"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let cosine = Numerics.cosine(try clip(root + "/one-model")[...], try clip(root + "/two-model")[...])
        #expect(cosine >= 0.9999, "cosine \(cosine)")

        // Resume keeps the rank count: one process cannot continue a two-rank run.
        let wrong = try CommandRunner.run("m2d-train", ["pretrain", "--run", root + "/two", "--resume"] + data)
        #expect(wrong.status != 0 && wrong.stderr.contains("mpirun -np 2"), "\(wrong.stderr)")
        // Ranks that disagree on the data (an MPMD launch) refuse to start, and no rank is left waiting.
        _ = try TestAudio.toneTask(in: root + "/other", frequencies: [500, 700], train: 4, valid: false)
        let split = try CommandRunner.run(
            executable: Self.mpirun,
            mpi(1) + [binary, "pretrain", "--run", root + "/mixed"] + data + flags + [":"] + ["-np", "1", binary,
                "pretrain", "--run", root + "/mixed", "--data", root + "/other"] + flags)
        #expect(split.status != 0 && split.stderr.contains("disagrees with rank 0 on the data"), "\(split.stderr)")
        // Loop flags that change which collectives run (here --max-steps) must agree as well: else a hang.
        let steps = try CommandRunner.run(
            executable: Self.mpirun,
            mpi(1) + [binary, "pretrain", "--run", root + "/steps"] + data + flags + [":"] + ["-np", "1", binary,
                "pretrain", "--run", root + "/steps", "--max-steps", "2"] + data + flags)
        #expect(steps.status != 0 && steps.stderr.contains("on the loop flags"), "\(steps.stderr)")
        // A global batch that does not split over the ranks is refused with the fix.
        let odd = try CommandRunner.run(
            executable: Self.mpirun,
            mpi(2) + [binary, "pretrain", "--run", root + "/odd"] + data + flags + ["--batch-size", "3"])
        #expect(odd.status != 0 && odd.stderr.contains("use a multiple of 2"), "\(odd.stderr)")
    }

    @Test func aRankThatDiesStopsTheWholeJob() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.mpirun) else {
            Issue.record("no \(Self.mpirun): make deps installs openmpi-bin")
            return
        }
        let root = Fixtures.temporaryDirectory()
        _ = try TestAudio.toneTask(in: root + "/audio", frequencies: [300, 900], train: 2, valid: false)
        let run = root + "/endless"
        let job = Process()
        job.executableURL = URL(fileURLWithPath: Self.mpirun)
        job.arguments = mpi(2) + [binary, "pretrain", "--run", run, "--data", root + "/audio"] + flags + [
            "--epochs", "1000000",
        ]
        let err = Pipe()
        job.standardError = err
        job.standardOutput = FileHandle.nullDevice
        try job.run()
        defer { if job.isRunning { job.terminate() } }
        // Wait until the ranks train (rank 0 appends to metrics.csv), then kill one of them.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline,
            ((try? String(contentsOfFile: run + "/metrics.csv", encoding: .utf8)) ?? "").split(separator: "\n")
                .count < 3
        {
            usleep(100_000)
        }
        let ranks = try CommandRunner.run(executable: "/usr/bin/pgrep", ["-f", "pretrain --run \(run) "])
        // pgrep also finds mpirun, whose arguments hold the same command.
        let pids = ranks.stdoutText.split(separator: "\n").compactMap { Int32($0) }.filter {
            $0 != job.processIdentifier
        }
        #expect(pids.count == 2, "rank pids: \(ranks.stdoutText)")
        kill(try #require(pids.last), SIGKILL)
        let stopBy = Date().addingTimeInterval(30)
        while job.isRunning && Date() < stopBy { usleep(100_000) }
        #expect(!job.isRunning, "mpirun still running 30 s after a rank was killed: a hang")
        job.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(job.terminationStatus != 0 && message.contains("exited on signal 9"), "\(message)")
        let left = try CommandRunner.run(executable: "/usr/bin/pgrep", ["-f", "pretrain --run \(run) "])
        #expect(left.stdoutText.split(separator: "\n").isEmpty, "ranks left running: \(left.stdoutText)")
    }
}
