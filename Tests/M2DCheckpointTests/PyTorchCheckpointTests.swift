// The .pth reader: real checkpoints, crafted hostile ones, damage, and a fuzz run. It must give a
// clear error and never crash or execute anything.
import Foundation
import M2DCheckpoint
import M2DTensor
import Testing
import TestSupport

let goldenPth = Fixtures.golden + "/tiny_208/official_pth/m2d_vit_base-80x208p16x16-golden/checkpoint-300.pth"

/// A protocol-2 pickle of {'model': <callable from module.name called with ()>}.
func pickleCalling(_ module: String, _ name: String) -> [UInt8] {
    [0x80, 0x02, 0x7D, 0x58] + le32(5) + Array("model".utf8) + [0x63] + Array("\(module)\n\(name)\n".utf8) + [
        0x29, 0x52, 0x73, 0x2E,
    ]
}

func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * $0) & 0xFF) } }

func expectMalformed(_ bytes: [UInt8], _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        _ = try PyTorchCheckpoint(bytes: bytes, name: "crafted.pth")
        Issue.record("expected an error mentioning '\(text)'", sourceLocation: sourceLocation)
    } catch {
        #expect("\(error)".contains(text), "\(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct PyTorchCheckpointTests {
    @Test func readsTheOfficialGoldenCheckpoint() throws {
        let ckpt = try PyTorchCheckpoint(path: goldenPth)
        #expect(ckpt.root["epoch"]?.int == 300)
        let model = try #require(ckpt.root["model"])
        let tensors = PyTorchCheckpoint.tensors(of: model)
        let byName = Dictionary(uniqueKeysWithValues: tensors)
        let pos = try #require(byName["pos_embed"])
        #expect(pos.shape == [1, 66, 192])
        var values = [Float](repeating: 0, count: 66 * 192)
        try values.withUnsafeMutableBufferPointer { try ckpt.read(pos, name: "pos_embed", into: $0.baseAddress!) }
        let reference = try SafeTensorsFile(path: Fixtures.golden + "/tiny_208/model/model.safetensors").array(
            "pos_embed")
        #expect(values == reference)
    }

    @Test func forbiddenGlobalsAreRefused() {
        for (module, name) in [
            ("os", "system"), ("posix", "system"), ("subprocess", "Popen"), ("builtins", "eval"),
            ("__builtin__", "exec"),
        ] {
            let zip = ZipWriter.archive([("archive/data.pkl", pickleCalling(module, name))])
            expectMalformed(zip, "forbidden global \(module).\(name)")
        }
    }

    @Test func unknownGlobalsStayInert() throws {
        let zip = ZipWriter.archive([("archive/data.pkl", pickleCalling("argparse", "Namespace"))])
        let ckpt = try PyTorchCheckpoint(bytes: zip, name: "ns.pth")
        guard case let .object(o)? = ckpt.root["model"] else { Issue.record("expected an inert object"); return }
        #expect(o.global == "argparse.Namespace")
    }

    @Test func unknownOpcodeIsAClearError() {
        let pickle: [UInt8] = [0x80, 0x02, 0x82, 0x01, 0x2E]  // EXT1
        expectMalformed(ZipWriter.archive([("archive/data.pkl", pickle)]), "unsupported pickle opcode 0x82")
        expectMalformed(ZipWriter.archive([("archive/data.pkl", [0x80, 0x02, 0x7D])]), "truncated pickle")
        expectMalformed(ZipWriter.archive([("archive/data.pkl", [0x80, 0x02, 0x30, 0x2E])]), "stack underflow")
        expectMalformed(ZipWriter.archive([("archive/data.pkl", [0x80, 0x02, 0x68, 0x07, 0x2E])]), "memo key 7")
    }

    @Test func notACheckpoint() {
        expectMalformed(ZipWriter.archive([("hello.txt", Array("hi".utf8))]), "no data.pkl")
        expectMalformed(
            ZipWriter.archive([("archive/data.pkl", pickleCalling("argparse", "Namespace"))], method: 8), "compressed")
        expectMalformed([0x80, 0x02, 0x8A, 0x0A] + [UInt8](repeating: 0, count: 64), "legacy")
        expectMalformed(Array("definitely not a zip file, just some text".utf8), "not a zip archive")
        expectMalformed([], "too short")
    }

    @Test func truncatedFilesAreErrors() throws {
        let bytes = Fixtures.bytes(goldenPth)
        for fraction in [0.0001, 0.1, 0.5, 0.9, 0.999] {
            let cut = Array(bytes.prefix(Int(Double(bytes.count) * fraction)))
            #expect(throws: CheckpointError.self) { try PyTorchCheckpoint(bytes: cut, name: "cut.pth") }
        }
    }

    /// A few thousand mutated checkpoints: each either loads (and every tensor reads or fails
    /// cleanly) or throws; none may crash or hang. Mutations: random bytes in the pickle, in the
    /// directory and anywhere, cuts, deep nesting spliced into the pickle, and huge sizes and offsets.
    @Test func fuzzMutatedCheckpoints() throws {
        let original = Fixtures.bytes(goldenPth)
        let pickleStart = original.firstRange(of: Array("data.pkl".utf8)).map { $0.upperBound } ?? 0
        // Seeded, so CI is reproducible; change the seed locally to explore further.
        var rng = Rng(seed: 20_261_122)
        var loaded = 0, rejected = 0
        // The golden pickle, to splice deep nesting into.
        let pkl: [UInt8] = try original.withUnsafeBytes { raw in
            let zip = try ZipArchive(bytes: raw, path: "golden")
            return Array(try zip.data(zip.entries.keys.first { $0.hasSuffix("data.pkl") }!))
        }
        for i in 0..<3000 {
            var bytes = original
            switch i % 6 {
            case 4:  // a deep run of tuples, lists or dicts spliced into a valid archive's pickle
                var body = pkl
                let run: [UInt8] = [
                    [0x29] + [UInt8](repeating: 0x85, count: Int.random(in: 200...5000, using: &rng)),
                    [UInt8](repeating: 0x28, count: 600) + [0x5D] + [UInt8](repeating: 0x6C, count: 600),
                    [0x5D, 0x5D, 0x71, 0, 0x61, 0x30, 0x68, 0, 0x5D, 0x61],
                ][Int.random(in: 0...2, using: &rng)]
                body.insert(contentsOf: run + [0x30], at: Int.random(in: 2..<(body.count - 1), using: &rng))
                // Only the pickle: the nesting checks run before any storage is read.
                bytes = ZipWriter.archive([("archive/data.pkl", body)])
            case 5:  // a size or offset near Int.max in the directory at the end
                let at = Int.random(in: max(0, bytes.count - 400)..<(bytes.count - 8), using: &rng)
                let value = [UInt64.max, UInt64(Int.max), UInt64(Int.max) - 20, 0xFFFF_FFFF][
                    Int.random(in: 0...3, using: &rng)]
                for k in 0..<(Bool.random(using: &rng) ? 8 : 4) {
                    bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k)))
                }
            case 0:  // flip bytes in the pickle
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    let at = Int.random(in: pickleStart..<min(bytes.count, pickleStart + 8000), using: &rng)
                    bytes[at] = UInt8.random(in: 0...255, using: &rng)
                }
            case 1:  // flip bytes in the zip directory at the end
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let at = Int.random(in: max(0, bytes.count - 4000)..<bytes.count, using: &rng)
                    bytes[at] = UInt8.random(in: 0...255, using: &rng)
                }
            case 2:  // cut
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            default:  // anywhere
                for _ in 0..<Int.random(in: 1...16, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            do {
                let ckpt = try PyTorchCheckpoint(bytes: bytes, name: "fuzz.pth")
                loaded += 1
                for (name, t) in PyTorchCheckpoint.tensors(of: ckpt.root["model"] ?? ckpt.root) {
                    let n = t.shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
                    guard n <= 1 << 24 else { continue }
                    var out = [Float](repeating: 0, count: max(1, n))
                    try? out.withUnsafeMutableBufferPointer { try ckpt.read(t, name: name, into: $0.baseAddress!) }
                }
            } catch {
                rejected += 1
            }
        }
        #expect(loaded + rejected == 3000)
        #expect(rejected > 100, "mutations should mostly be caught (\(rejected) rejected)")
    }
}
