// Resampler: soxr one-shot conversion (high quality, float32 mono).
import CSoxr

public enum Resampler {
    /// Resamples mono `input` from `fromRate` to `toRate` with soxr's HQ recipe. Identity when equal.
    public static func resample(_ input: [Float], from fromRate: Int, to toRate: Int) throws(AudioError) -> [Float] {
        if fromRate == toRate || input.isEmpty { return input }
        let outLength = Int((Double(input.count) * Double(toRate) / Double(fromRate)).rounded())
        var output = [Float](repeating: 0, count: max(outLength, 1))
        var done = 0
        var ioSpec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var quality = soxr_quality_spec(UInt(SOXR_HQ), 0)
        let error: soxr_error_t? = input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                soxr_oneshot(Double(fromRate), Double(toRate), 1, src.baseAddress, input.count, nil,
                             dst.baseAddress, outLength, &done, &ioSpec, &quality, nil)
            }
        }
        if let error { throw .resampleFailed(reason: String(cString: error)) }
        output.removeLast(output.count - done)
        return output
    }
}
