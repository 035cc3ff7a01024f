// Batch invariance, black-box: the default model served by the real m2d-server (fp32 and int8, with
// oneDNN's kernels for this CPU and capped at AVX2, whose products the unfused path saw vary with the
// batch), two clips requested 8 times each at once (the scheduler batches them together, in any order
// and any company) give, bit for bit, the embeddings the same clips got one request at a time.
import Foundation
import M2DServer
import Testing
import TestSupport

@Suite(.serialized) struct BatchInvarianceTests {
    /// The clip embedding of a /embed answer, as the exact floats the server wrote.
    static func embedding(_ r: TestResponse?) -> [Float]? {
        guard let data = (r?.json?["data"] as? [[String: Any]])?.first,
            let values = data["embedding"] as? [NSNumber]
        else { return nil }
        return values.map(\.floatValue)
    }

    @Test(arguments: [("fp32", "this CPU's"), ("int8", "this CPU's"), ("fp32", "AVX2"), ("int8", "AVX2")])
    func concurrentRequestsEqualSequentialOnes(precision: String, isa: String) throws {
        let server = try ServerProcess(
            ["--precision", precision, "--max-batch-delay-ms", "50"], model: "models/m2d-small-debian".absolute,
            environment: isa == "AVX2" ? ["ONEDNN_MAX_CPU_ISA": "AVX2"] : [:])
        let clips = [audio("five_sec_tone_noise"), audio("ten_sec_mod")]
        let alone = try clips.map { clip in
            try #require(Self.embedding(try server.postWAV("/embed", clip)), "no embedding alone")
        }
        #expect(try Self.embedding(try server.postWAV("/embed", clips[0])) == alone[0])
        let before = metric(try server.request("GET", "/metrics", admin: true).text, "m2d_batch_chunks_count") ?? 0
        let concurrent = (0..<16).map { i in
            BackgroundRequest(port: server.port, headers: ["Content-Type": "audio/wav"], body: clips[i % 2])
        }
        let answers = concurrent.map { Self.embedding($0.wait()) }
        let batches = (metric(try server.request("GET", "/metrics", admin: true).text, "m2d_batch_chunks_count") ?? 0)
            - before
        #expect(batches < 16, "the 16 requests ran in \(batches) forwards: nothing was batched")
        for (i, answer) in answers.enumerated() {
            #expect(answer == alone[i % 2], "request \(i) (clip \(i % 2)) differs from the clip alone")
        }
    }
}
