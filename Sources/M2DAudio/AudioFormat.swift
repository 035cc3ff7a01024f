// AudioFormat: the one table of the audio formats m2d-serve reads (through libsndfile): display
// names, file extensions, media types and the signatures that recognise a container from its first
// bytes. The server, m2d-embed and the trainer name formats only through this table.

public enum AudioFormat: String, CaseIterable, Sendable {
    case wav, flac, ogg, mp3, aiff

    public var displayName: String {
        switch self {
        case .wav: "WAV (PCM 8/16/24/32-bit, float)"
        case .flac: "FLAC"
        case .ogg: "OGG Vorbis, Opus"
        case .mp3: "MP3"
        case .aiff: "AIFF"
        }
    }

    /// File extensions, lowercased, without the dot.
    public var fileExtensions: [String] {
        switch self {
        case .wav: ["wav", "wave"]
        case .flac: ["flac"]
        case .ogg: ["ogg", "oga", "opus"]
        case .mp3: ["mp3"]
        case .aiff: ["aif", "aiff", "aifc"]
        }
    }

    /// Media types a client may send this format as.
    public var mediaTypes: [String] {
        switch self {
        case .wav: ["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"]
        case .flac: ["audio/flac", "audio/x-flac"]
        case .ogg: ["audio/ogg", "audio/opus", "application/ogg"]
        case .mp3: ["audio/mpeg", "audio/mp3"]
        case .aiff: ["audio/aiff", "audio/x-aiff"]
        }
    }

    /// Every accepted extension.
    public static let fileExtensions: Set<String> = Set(allCases.flatMap(\.fileExtensions))
    /// Every accepted audio media type (application/octet-stream, which is sniffed, is not listed).
    public static let mediaTypes: Set<String> = Set(allCases.flatMap(\.mediaTypes))
    /// "WAV (PCM 8/16/24/32-bit, float), FLAC, OGG Vorbis, Opus, MP3, AIFF".
    public static let summary = allCases.map(\.displayName).joined(separator: ", ")

    /// Whether `path` names a file of an accepted format (by its extension).
    public static func isAudioFile(_ path: String) -> Bool {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return false }
        return fileExtensions.contains(path[path.index(after: dot)...].lowercased())
    }

    /// The container, recognised from the first bytes; nil when none matches.
    public static func sniff(_ bytes: [UInt8]) -> AudioFormat? {
        func ascii(_ at: Int, _ text: String) -> Bool {
            let pattern = Array(text.utf8)
            return bytes.count >= at + pattern.count && bytes[at..<(at + pattern.count)].elementsEqual(pattern)
        }
        if ascii(0, "RIFF") && ascii(8, "WAVE") { return .wav }
        if ascii(0, "RF64") || ascii(0, "BW64") { return .wav }
        if ascii(0, "fLaC") { return .flac }
        if ascii(0, "OggS") { return .ogg }
        if ascii(0, "FORM") && (ascii(8, "AIFF") || ascii(8, "AIFC")) { return .aiff }
        if ascii(0, "ID3") { return .mp3 }
        if bytes.count >= 2, bytes[0] == 0xFF, bytes[1] & 0xE0 == 0xE0 { return .mp3 }
        return nil
    }

    /// Containers known to be unreadable by libsndfile, named for the error message.
    public static func refusedContainer(_ bytes: [UInt8]) -> String? {
        if bytes.count >= 8, bytes[4..<8].elementsEqual("ftyp".utf8) { return "MP4/M4A/AAC" }
        if bytes.count >= 4, bytes[0..<4].elementsEqual([0x1A, 0x45, 0xDF, 0xA3]) { return "WebM/Matroska" }
        return nil
    }
}
