// Resampler: soxr (high quality, float32 mono), one-shot or streamed block by block. A stream gives
// the same samples as the one-shot call (soxr buffers its input internally; the test suite checks
// equality), so the decoder never needs the whole input-rate signal in memory.
import CSoxr

public enum Resampler {
    /// Resamples mono `input` from `fromRate` to `toRate` with soxr's HQ recipe. Identity when equal.
    public static func resample(_ input: [Float], from fromRate: Int, to toRate: Int) throws(AudioError) -> [Float] {
        if fromRate == toRate || input.isEmpty { return input }
        let outLength = outputLength(input.count, from: fromRate, to: toRate)
        var output = [Float](repeating: 0, count: max(outLength, 1))
        var done = 0
        var ioSpec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var quality = soxr_quality_spec(UInt(SOXR_HQ), 0)
        let error: soxr_error_t? = input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                soxr_oneshot(
                    Double(fromRate), Double(toRate), 1, src.baseAddress, input.count, nil,
                    dst.baseAddress, outLength, &done, &ioSpec, &quality, nil)
            }
        }
        if let error { throw .resampleFailed(reason: String(cString: error)) }
        output.removeLast(output.count - done)
        return output
    }

    /// Output samples for `count` input samples: round(count * to / from), as the one-shot call keeps.
    public static func outputLength(_ count: Int, from fromRate: Int, to toRate: Int) -> Int {
        Int((Double(count) * Double(toRate) / Double(fromRate)).rounded())
    }
}

/// A soxr stream: feed mono blocks with `append`, then `finish`. Output accumulates in `output`.
public final class StreamingResampler {
    private let soxr: soxr_t
    private let fromRate: Int, toRate: Int
    private var inputCount = 0
    private var scratch: [Float]
    public private(set) var output: [Float] = []

    public init(from fromRate: Int, to toRate: Int, expectedOutput: Int = 0) throws(AudioError) {
        var ioSpec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var quality = soxr_quality_spec(UInt(SOXR_HQ), 0)
        var error: soxr_error_t?
        guard let soxr = soxr_create(Double(fromRate), Double(toRate), 1, &error, &ioSpec, &quality, nil), error == nil
        else {
            throw .resampleFailed(reason: error.map { String(cString: $0) } ?? "soxr_create failed")
        }
        self.soxr = soxr
        self.fromRate = fromRate
        self.toRate = toRate
        scratch = [Float](repeating: 0, count: 4096)
        output.reserveCapacity(expectedOutput + scratch.count)
    }

    deinit { soxr_delete(soxr) }

    public func append(_ input: UnsafeBufferPointer<Float>) throws(AudioError) {
        inputCount += input.count
        var offset = 0
        while offset < input.count {
            var consumed = 0
            let produced = try process(
                input.baseAddress.map { $0 + offset }, count: input.count - offset, consumed: &consumed)
            offset += consumed
            if consumed == 0 && produced == 0 { break }
        }
    }

    /// Flushes soxr and trims to the one-shot length; returns the whole output.
    public func finish() throws(AudioError) -> [Float] {
        var consumed = 0
        while try process(nil, count: 0, consumed: &consumed) > 0 {}
        let length = Resampler.outputLength(inputCount, from: fromRate, to: toRate)
        if output.count > length { output.removeLast(output.count - length) }
        return output
    }

    private func process(_ input: UnsafePointer<Float>?, count: Int, consumed: inout Int) throws(AudioError) -> Int {
        var done = 0
        let error: soxr_error_t? = scratch.withUnsafeMutableBufferPointer { out in
            soxr_process(soxr, input, count, &consumed, out.baseAddress, out.count, &done)
        }
        if let error { throw .resampleFailed(reason: String(cString: error)) }
        output.append(contentsOf: scratch[0..<done])
        return done
    }
}
