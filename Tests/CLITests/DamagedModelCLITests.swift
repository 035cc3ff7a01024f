// Damaged and hostile model directories against the real tools: m2d-embed (and m2d-train) under an
// address-space limit exit 1 with a message naming what is wrong, never on a signal; the issue's
// three cases by name, then a seeded sample of mutated configs and weight headers.
import Foundation
import Testing
import TestSupport

@Suite struct DamagedModelCLITests {
    static let source = Fixtures.golden + "/tiny_208/model"
    /// Loading the tiny model takes about 700 MiB of address space (libraries, thread stacks); 1 GiB
    /// leaves room for the model and nothing for an allocation a config could ask for.
    static let addressSpace = "--as=\(1 << 30)"

    func damaged(_ edit: (inout [String: Any]) -> Void) throws -> String {
        let dir = Fixtures.temporaryDirectory()
        var config =
            try JSONSerialization.jsonObject(with: Data(Fixtures.bytes(Self.source + "/config.json")))
            as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        try FileManager.default.copyItem(atPath: Self.source + "/model.safetensors", toPath: dir + "/model.safetensors")
        return dir
    }

    func embed(_ model: String) throws -> CommandResult {
        try CommandRunner.run(
            executable: "/usr/bin/prlimit",
            [
                Self.addressSpace, CommandRunner.productsDirectory.appendingPathComponent("m2d-embed").path, "--model",
                model, Fixtures.golden + "/audio/short_chirp.wav",
            ])
    }

    @Test func theIssuesThreeCasesExitOneNamingTheField() throws {
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("depth is 1000000", { $0["depth"] = 1_000_000 }),
            ("input_size[1] is 1099511627776", { $0["input_size"] = [80, 1_099_511_627_776] }),
            ("norm_stats", { $0["norm_stats"] = [0, 0] }),
        ]
        for (named, edit) in cases {
            let dir = try damaged(edit)
            let r = try embed(dir)
            #expect(!r.signalled && r.status == 1, "\(named): status \(r.status), \(r.stderr.suffix(300))")
            #expect(r.stderr.contains("m2d-embed: cannot load the model") && r.stderr.contains(named), "\(r.stderr)")
            let train = try CommandRunner.run(
                "m2d-train", ["eval", "--model", dir, dir + "/task.csv"])
            #expect(!train.signalled && train.status == 1 && train.stderr.contains(named), "\(train.stderr)")
        }
    }

    @Test func mutatedModelDirectoriesNeverEndOnASignal() throws {
        let config = String(decoding: Fixtures.bytes(Self.source + "/config.json"), as: UTF8.self)
        let weights = Fixtures.bytes(Self.source + "/model.safetensors")
        var m = ModelMutations(seed: 43)
        var refused = 0
        for i in 0..<30 {
            let dir = Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try Data((i % 2 == 0 ? m.config(config) : config).utf8).write(
                to: URL(fileURLWithPath: dir + "/config.json"))
            try Data(i % 2 == 1 ? m.safetensors(weights) : weights).write(
                to: URL(fileURLWithPath: dir + "/model.safetensors"))
            let r = try embed(dir)
            #expect(!r.signalled && (r.status == 0 || r.status == 1), "status \(r.status): \(r.stderr.suffix(400))")
            if r.status == 1 {
                refused += 1
                #expect(r.stderr.contains("m2d-embed: cannot load the model"), "\(r.stderr.suffix(300))")
            }
        }
        #expect(refused >= 20, "\(refused) of 30 refused")
    }
}
