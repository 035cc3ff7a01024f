// safetensors reading/writing: round trips in every dtype, strict verification, malformed files,
// atomic writes; .npy encoding.
import Foundation
import M2DCheckpoint
import M2DTensor
import Testing
import TestSupport

@Suite struct SafeTensorsTests {
    let values: [Float] = [0, 1, -2.5, 3.25, 1e-3, -7.125]

    @Test(arguments: [DType.f32, .f16, .bf16])
    func roundTrip(dtype: DType) throws {
        let path = Fixtures.temporaryDirectory() + "/t.safetensors"
        var writer = SafeTensorsWriter(metadata: ["step": "12"])
        writer.add("a.weight", shape: [2, 3], array: values, dtype: dtype)
        writer.add("b", shape: [1], array: [42])
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.keys == ["a.weight", "b"])
        #expect(file.metadata["step"] == "12")
        #expect(file.shape(of: "a.weight") == [2, 3])
        let back = try file.array("a.weight")
        switch dtype {
        case .f32: #expect(back == values)
        case .f16: #expect(back == values.map { Float(Float16($0)) })
        case .bf16: #expect(zip(back, values).allSatisfy { abs($0 - $1) <= abs($1) / 128 })
        }
        #expect(try file.array("b") == [42])
    }

    /// Reading a tensor releases its pages of the mapping; reading it again faults the same bytes in.
    @Test func aTensorReadsTheSameTwiceAfterItsPagesAreReleased() throws {
        let path = Fixtures.temporaryDirectory() + "/big.safetensors"
        let big = (0..<100_000).map { Float($0 % 977) - 488 }
        var writer = SafeTensorsWriter()
        writer.add("w", shape: [100, 1000], array: big)
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        var first = [Float](repeating: 0, count: big.count), second = first
        try first.withUnsafeMutableBufferPointer { try file.read("w", expecting: [100, 1000], into: $0.baseAddress!) }
        try second.withUnsafeMutableBufferPointer { try file.read("w", expecting: [100, 1000], into: $0.baseAddress!) }
        #expect(first == big && second == big)
    }

    @Test func strictShapeAndKeyErrors() throws {
        let path = Fixtures.temporaryDirectory() + "/t.safetensors"
        var writer = SafeTensorsWriter()
        writer.add("w", shape: [2, 3], array: values)
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        let dst = FloatBuffer(count: 6)
        #expect(throws: CheckpointError.shapeMismatch(key: "w", expected: [3, 2], actual: [2, 3])) {
            try file.read("w", expecting: [3, 2], into: dst.pointer)
        }
        #expect(throws: CheckpointError.missingKey(key: "v", expected: [6])) {
            try file.read("v", expecting: [6], into: dst.pointer)
        }
        try file.read("w", expecting: [2, 3], into: dst.pointer)
        #expect(dst.toArray() == values)
    }

    @Test func readsHuggingFaceStyleFilesFromTheGoldenSet() throws {
        let file = try SafeTensorsFile(path: Fixtures.golden + "/wide_608/model/model.safetensors")
        #expect(file.shape(of: "pos_embed") == [1, 191, 768])
        #expect(try file.array("norm_stats").count == 2)
    }

    @Test func malformedFilesAreClearErrors() throws {
        let dir = Fixtures.temporaryDirectory()
        let cases: [(String, [UInt8])] = [
            ("short", [1, 2, 3]),
            ("huge-header", [255, 255, 255, 255, 0, 0, 0, 0] + Array("{}".utf8)),
            ("not-json", [4, 0, 0, 0, 0, 0, 0, 0] + Array("abcd".utf8)),
            (
                "bad-offsets",
                Array(
                    { () -> Data in
                        let header = #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
                        var d = Data([UInt8(header.utf8.count), 0, 0, 0, 0, 0, 0, 0]); d.append(Data(header.utf8));
                        d.append(Data(count: 8))
                        return d
                    }())
            ),
        ]
        for (name, bytes) in cases {
            let path = dir + "/\(name).safetensors"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect(throws: CheckpointError.self, "\(name)") { try SafeTensorsFile(path: path) }
        }
        #expect(throws: CheckpointError.self) { try SafeTensorsFile(path: dir + "/absent.safetensors") }
        #expect(throws: CheckpointError.self) { try SafeTensorsFile(path: dir) }
    }

    @Test func unsupportedDTypeIsNamed() throws {
        let path = Fixtures.temporaryDirectory() + "/i.safetensors"
        let header = #"{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#
        var d = Data([UInt8(header.utf8.count), 0, 0, 0, 0, 0, 0, 0]); d.append(Data(header.utf8));
        d.append(Data(count: 8))
        try d.write(to: URL(fileURLWithPath: path))
        let file = try SafeTensorsFile(path: path)
        #expect(throws: CheckpointError.unsupportedDType(key: "ids", dtype: "I64")) { try file.array("ids") }
    }

    @Test func atomicWriteLeavesNoTemporaryFiles() throws {
        let dir = Fixtures.temporaryDirectory()
        try AtomicFile.write(Data("one".utf8), to: dir + "/x.txt")
        try AtomicFile.write(Data("two".utf8), to: dir + "/x.txt")
        #expect(try String(contentsOfFile: dir + "/x.txt", encoding: .utf8) == "two")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["x.txt"])
        #expect(throws: CheckpointError.self) { try AtomicFile.write(Data(), to: "/nonexistent-dir/x") }
    }

    @Test func npyRoundTrip() throws {
        let data = NpyFile.encode([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect((data.count - 24) % 64 == 0)
        let decoded = try #require(NpyFile.decode(data))
        #expect(decoded.shape == [2, 3] && decoded.values == [1, 2, 3, 4, 5, 6])
        #expect(NpyFile.decode(Data("nope".utf8)) == nil)
    }
}
