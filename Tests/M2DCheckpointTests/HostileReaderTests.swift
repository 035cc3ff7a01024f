// Hostile files for every reader: deep pickles, sizes and offsets near Int.max in zip, safetensors
// and npy headers. Each must be a clear CheckpointError (or nil for npy), never a trap.
import Foundation
import M2DCheckpoint
import M2DTensor
import Testing
import TestSupport

func pickle(_ body: [UInt8]) -> [UInt8] { ZipWriter.archive([("archive/data.pkl", [0x80, 0x02] + body + [0x2E])]) }

func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

@Suite struct HostileReaderTests {
    @Test func fortyThousandNestedTuplesAreRefused() {
        // () then TUPLE1 40,000 times: the file that crashed m2d-embed with a recursive deinit.
        expectMalformed(pickle([0x29] + [UInt8](repeating: 0x85, count: 40_000)), "nests deeper than 256")
        // Pairs: ((((), ()), ()), ()) ... through TUPLE2.
        expectMalformed(pickle([0x29] + (0..<300).flatMap { _ in [UInt8]([0x29, 0x86]) }), "nests deeper than 256")
    }

    @Test func deepListsAndDictsAreRefused() {
        // [[[...]]] through MARK/LIST, and {"k": {"k": ...}} through MARK/DICT.
        var lists: [UInt8] = []
        for _ in 0..<1000 { lists += [0x28] }
        lists += [0x5D]
        for _ in 0..<1000 { lists += [0x6C] }
        expectMalformed(pickle(lists), "nests deeper than 256")
        var dicts: [UInt8] = [0x7D]
        for _ in 0..<1000 { dicts = [0x28, 0x8C, 1, UInt8(ascii: "k")] + dicts + [0x64] }
        expectMalformed(pickle(dicts), "nests deeper than 256")
    }

    @Test func containersCannotChangeOnceNested() {
        // L0 = [], L1 = [] memoised; append L1 into L0; fetch L1 back and append into it: refused,
        // because L0's depth was computed when L1 went in.
        let chain: [UInt8] = [0x5D, 0x5D, 0x71, 0, 0x61, 0x30, 0x68, 0, 0x5D, 0x61]
        expectMalformed(pickle(chain), "changes a container after nesting it")
        // A list put inside itself.
        expectMalformed(pickle([0x5D, 0x32, 0x61]), "inside itself")
    }

    @Test func shallowPicklesStillLoad() throws {
        // {"a": ([1], {"b": 2})} is fine.
        let body: [UInt8] = [
            0x7D, 0x28, 0x8C, 1, UInt8(ascii: "a"), 0x5D, 0x4B, 1, 0x61, 0x7D, 0x8C, 1, UInt8(ascii: "b"), 0x4B, 2,
            0x73, 0x86, 0x75,
        ]
        let ckpt = try PyTorchCheckpoint(bytes: pickle(body), name: "ok.pth")
        guard case let .tuple(t)? = ckpt.root["a"], t.count == 2 else { Issue.record("bad root"); return }
    }

    @Test func hugeLengthsInPicklesAreRefused() {
        expectMalformed(pickle([0x8D] + le64(UInt64.max)), "out of range")
        expectMalformed(pickle([0x8D] + le64(UInt64(Int.max) - 3)), "truncated pickle")
        expectMalformed(pickle([0x6A] + le32(0x7FFF_FFFF)), "memo key")
    }

    @Test func zipOffsetsNearIntMaxAreRefused() {
        // A stored entry whose local header offset is 0xFFFFFFFF, resolved through a zip64 extra
        // field to Int.max - 10: adding the header size would overflow.
        var zip = ZipWriter.archive([("archive/data.pkl", [0x80, 0x02, 0x4E, 0x2E])])
        let central = zip.firstRange(of: [0x50, 0x4B, 0x01, 0x02])!.lowerBound
        for i in 0..<4 { zip[central + 42 + i] = 0xFF }
        // Rebuild with a zip64 extra after the name.
        let nameLength = Int(zip[central + 28]) | Int(zip[central + 29]) << 8
        let extra: [UInt8] = [0x01, 0x00, 8, 0] + le64(UInt64(Int.max) - 10)
        zip.insert(contentsOf: extra, at: central + 46 + nameLength)
        zip[central + 30] = UInt8(extra.count)
        // The end record's directory size grows by the extra field.
        let eocd = zip.count - 22
        let size = Int(zip[eocd + 12]) | Int(zip[eocd + 13]) << 8
        zip[eocd + 12] = UInt8((size + extra.count) & 0xFF)
        zip[eocd + 13] = UInt8((size + extra.count) >> 8)
        expectMalformed(zip, "bad local header")
        // A zip64 end record pointing near Int.max.
        var z64 = ZipWriter.archive([("archive/data.pkl", [0x80, 0x02, 0x4E, 0x2E])])
        let end = z64.count - 22
        for i in 16..<20 { z64[end + i] = 0xFF }
        let locator: [UInt8] = [0x50, 0x4B, 0x06, 0x07, 0, 0, 0, 0] + le64(UInt64(Int.max) - 2) + [1, 0, 0, 0]
        z64.insert(contentsOf: locator, at: end)
        expectMalformed(z64, "zip structure points past the end")
    }

    func safetensors(header: [UInt8], declaredLength: UInt64? = nil, data: [UInt8] = []) -> String {
        let path = Fixtures.temporaryDirectory() + "/h.safetensors"
        let bytes = le64(declaredLength ?? UInt64(header.count)) + header + data
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    @Test func safetensorsHeadersNearIntMaxAreRefused() {
        func refused(_ path: String, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try SafeTensorsFile(path: path)
                Issue.record("accepted", sourceLocation: sourceLocation)
            } catch {
                #expect("\(error)".contains(text), "\(error)", sourceLocation: sourceLocation)
            }
        }
        refused(safetensors(header: Array("{}".utf8), declaredLength: UInt64.max), "does not fit")
        refused(safetensors(header: Array("{}".utf8), declaredLength: UInt64(Int.max) + 7), "does not fit")
        let huge = #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}"#
        refused(safetensors(header: Array(huge.utf8), data: [UInt8](repeating: 0, count: 16)), "do not match")
        let negative = #"{"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}"#
        refused(safetensors(header: Array(negative.utf8), data: [UInt8](repeating: 0, count: 16)), "bad shape")
        let past = #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[9223372036854775800,9223372036854775807]}}"#
        refused(safetensors(header: Array(past.utf8), data: [UInt8](repeating: 0, count: 16)), "do not match")
    }

    @Test func npyShapesNearIntMaxAreRefused() {
        func npy(_ shape: String, payload: Int = 16) -> Data {
            var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape)), }"
            while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
            header += "\n"
            var d = Data(
                [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
            d.append(Data(header.utf8))
            d.append(Data(count: payload))
            return d
        }
        #expect(NpyFile.decode(npy("4294967296, 4294967296")) == nil)
        #expect(NpyFile.decode(npy("9223372036854775807, 2")) == nil)
        #expect(NpyFile.decode(npy("-4")) == nil)
        #expect(NpyFile.decode(npy("2, x")) == nil)
        #expect(NpyFile.decode(npy("2, 2"))?.shape == [2, 2])
    }
}
