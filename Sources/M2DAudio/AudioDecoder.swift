// AudioDecoder: libsndfile over in-memory bytes through its virtual I/O (no temporary files).
// The header is read and checked first, so over-long or absurd audio is refused before any sample
// is decoded; decoding runs in fixed blocks, so memory never follows a header's frame count.
import CSndFile
import Foundation
import M2DTensor

public struct AudioDecoder: Sendable {
    public static let maxChannels = 8
    /// Frames read per libsndfile call: the only buffer whose size depends on the channel count.
    public static let blockFrames = 8192

    public init() {}

    /// Facts from the header alone (claims: the decoder checks them, it does not trust them).
    public struct Header: Sendable {
        public var frames: Int, sampleRate: Int, channels: Int, format: String
        public var durationSeconds: Double { sampleRate > 0 ? Double(frames) / Double(sampleRate) : 0 }
    }

    /// Decodes `bytes` whole into interleaved samples (tests and tools; the pipelines use `decodeBlocks`).
    public func decode(_ bytes: [UInt8], maxSeconds: Double? = nil) throws(AudioError) -> DecodedAudio {
        try decode(bytes, limits: DecodeLimits(maxSeconds: maxSeconds))
    }

    public func decode(_ bytes: [UInt8], limits: DecodeLimits) throws(AudioError) -> DecodedAudio {
        var samples = [Float]()
        let header = try decodeBlocks(bytes, limits: limits) { block, _ throws(AudioError) in
            samples.append(contentsOf: block)
        }
        return DecodedAudio(
            samples: samples, sampleRate: header.sampleRate, channels: header.channels, format: header.format)
    }

    /// Decodes `bytes` block by block: `body` receives each block of interleaved samples (at most
    /// `blockFrames` frames x channels, valid during the call only). The header is checked against
    /// `limits` before anything is decoded, and decoding stops with an error as soon as the data
    /// passes them, whatever the header declared.
    @discardableResult
    public func decodeBlocks(
        _ bytes: [UInt8], limits: DecodeLimits,
        _ body: (UnsafeBufferPointer<Float>, Header) throws(AudioError) -> Void
    ) throws(AudioError) -> Header {
        let source = MemorySource(bytes)
        return try source.withHandle { handle, info throws(AudioError) in
            let header = Self.header(info, handle)
            try Self.validate(header, limits: limits)
            let channels = header.channels
            let block = FloatBuffer(count: Self.blockFrames * channels)
            var total = 0
            while true {
                let got = Int(sf_readf_float(handle, block.pointer, sf_count_t(Self.blockFrames)))
                if got <= 0 { break }
                total += got
                // Formats whose header has no reliable length (MP3) are bounded while decoding.
                if let maxSeconds = limits.maxSeconds, Double(total) / Double(header.sampleRate) > maxSeconds + 1 {
                    throw .tooLong(seconds: Double(total) / Double(header.sampleRate), limitSeconds: maxSeconds)
                }
                if let budget = limits.maxDecodedSamples, total > budget / channels {
                    throw .tooManySamples(samples: total * channels, limit: budget)
                }
                let samples = UnsafeBufferPointer(start: block.pointer, count: got * channels)
                for s in samples where !s.isFinite { throw .nonFiniteSamples }
                try body(samples, header)
            }
            if sf_error(handle) != 0 {
                let message = String(cString: sf_strerror(handle))
                if total == 0 { throw .undecodable(reason: message) }
                throw .truncated(expectedFrames: header.frames, decodedFrames: total)
            }
            if total == 0 { throw .empty }
            if Self.isTruncated(header: header, decoded: total, handle: handle) {
                throw .truncated(expectedFrames: header.frames, decodedFrames: total)
            }
            return header
        }
    }

    /// Reads only the header.
    public func header(of bytes: [UInt8]) throws(AudioError) -> Header {
        try MemorySource(bytes).withHandle { handle, info throws(AudioError) in Self.header(info, handle) }
    }

    /// The header's claims against the limits, in the order a client can act on.
    public static func validate(_ header: Header, limits: DecodeLimits) throws(AudioError) {
        if header.channels > maxChannels { throw .tooManyChannels(channels: header.channels, limit: maxChannels) }
        if header.channels < 1 || header.sampleRate < 1 { throw .undecodable(reason: "invalid header") }
        if header.sampleRate > limits.maxSampleRate {
            throw .sampleRateTooHigh(rate: header.sampleRate, limit: limits.maxSampleRate)
        }
        guard header.frames > 0 else { return }
        if let maxSeconds = limits.maxSeconds, header.durationSeconds > maxSeconds {
            throw .tooLong(seconds: header.durationSeconds, limitSeconds: maxSeconds)
        }
        let (samples, overflow) = header.frames.multipliedReportingOverflow(by: header.channels)
        if let budget = limits.maxDecodedSamples, overflow || samples > budget {
            throw .tooManySamples(samples: overflow ? Int.max : samples, limit: budget)
        }
    }

    private static func header(_ info: SF_INFO, _ handle: OpaquePointer) -> Header {
        Header(
            frames: Int(info.frames), sampleRate: Int(info.samplerate), channels: Int(info.channels),
            format: formatName(info.format))
    }

    /// libsndfile quietly shortens a WAV/AIFF whose data chunk claims more bytes than the file has;
    /// its log says "data : N (should be M)". Streamed WAVs declare 0 or 0xFFFFFFFF: not damage.
    /// Lossless formats report exact lengths, so a short read there means damage too; MP3 headers
    /// only estimate the length.
    private static func isTruncated(header: Header, decoded: Int, handle: OpaquePointer) -> Bool {
        if header.frames > 0, decoded < header.frames, !header.format.hasPrefix("MP3") { return true }
        var log = [CChar](repeating: 0, count: 8192)
        _ = sf_command(handle, Int32(SFC_GET_LOG_INFO), &log, Int32(log.count))
        let text = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("*** Frame count read from") { return true }
            guard trimmed.hasPrefix("data") || trimmed.hasPrefix("SSND"),
                let open = trimmed.range(of: "(should be ")
            else { continue }
            let declared = trimmed[..<open.lowerBound].split(separator: ":").last.flatMap {
                UInt64($0.trimmingCharacters(in: .whitespaces))
            }
            let actual = UInt64(trimmed[open.upperBound...].prefix { $0.isNumber })
            if let declared, let actual, declared > actual, declared != 0, declared < 0x7FFF_0000 { return true }
        }
        return false
    }

    static func formatName(_ format: Int32) -> String {
        var container = SF_FORMAT_INFO(format: format & Int32(SF_FORMAT_TYPEMASK), name: nil, extension: nil)
        var codec = SF_FORMAT_INFO(format: format & Int32(SF_FORMAT_SUBMASK), name: nil, extension: nil)
        _ = sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &container, Int32(MemoryLayout<SF_FORMAT_INFO>.size))
        _ = sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &codec, Int32(MemoryLayout<SF_FORMAT_INFO>.size))
        var major = container.extension.map { String(cString: $0).uppercased() } ?? "?"
        if major == "OGA" { major = "OGG" }
        if major == "M1A" { major = "MP3" }
        let minor = codec.name.map { String(cString: $0) } ?? "?"
        return "\(major)/\(minor)"
    }
}

/// The bytes libsndfile reads through SF_VIRTUAL_IO; `self` travels as the user-data pointer.
private final class MemorySource {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func withHandle<R>(_ body: (OpaquePointer, SF_INFO) throws(AudioError) -> R) throws(AudioError) -> R {
        if bytes.isEmpty { throw .empty }
        var io = SF_VIRTUAL_IO(
            get_filelen: { user in sf_count_t(MemorySource.from(user).bytes.count) },
            seek: { offset, whence, user in
                let source = MemorySource.from(user)
                // libsndfile seeks by offsets read from the file: saturate instead of trapping.
                let base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? source.position : source.bytes.count
                let (target, overflow) = base.addingReportingOverflow(Int(offset))
                source.position =
                    overflow ? (offset < 0 ? 0 : source.bytes.count) : min(max(0, target), source.bytes.count)
                return sf_count_t(source.position)
            },
            read: { destination, count, user in
                let source = MemorySource.from(user)
                let n = max(0, min(Int(count), source.bytes.count - source.position))
                if n > 0, let destination {
                    source.bytes.withUnsafeBytes { raw in
                        destination.copyMemory(from: raw.baseAddress! + source.position, byteCount: n)
                    }
                }
                source.position += n
                return sf_count_t(n)
            },
            write: { _, _, _ in 0 },
            tell: { user in sf_count_t(MemorySource.from(user).position) })
        var info = SF_INFO()
        let user = Unmanaged.passUnretained(self).toOpaque()
        guard let handle = sf_open_virtual(&io, Int32(SFM_READ), &info, user) else {
            let reason = String(cString: sf_strerror(nil))
            throw .undecodable(reason: reason)
        }
        defer { sf_close(handle) }
        return try withExtendedLifetime(self) { () throws(AudioError) -> R in try body(handle, info) }
    }

    static func from(_ user: UnsafeMutableRawPointer?) -> MemorySource {
        Unmanaged<MemorySource>.fromOpaque(user!).takeUnretainedValue()
    }
}
