// AudioSniffer: recognises containers from their first bytes.

public enum AudioSniffer {
    /// "wav", "flac", "ogg", "mp3", "aiff" or nil.
    public static func format(_ b: [UInt8]) -> String? {
        func ascii(_ at: Int, _ s: String) -> Bool { b.count >= at + s.utf8.count && Array(b[at..<(at + s.utf8.count)]) == Array(s.utf8) }
        if ascii(0, "RIFF") && ascii(8, "WAVE") { return "wav" }
        if ascii(0, "RF64") || ascii(0, "BW64") { return "wav" }
        if ascii(0, "fLaC") { return "flac" }
        if ascii(0, "OggS") { return "ogg" }
        if ascii(0, "FORM") && (ascii(8, "AIFF") || ascii(8, "AIFC")) { return "aiff" }
        if ascii(0, "ID3") { return "mp3" }
        if b.count >= 2, b[0] == 0xFF, b[1] & 0xE0 == 0xE0 { return "mp3" }
        return nil
    }

    /// A name for containers we know libsndfile cannot open (MP4/M4A/AAC, WebM/Matroska).
    public static func unsupportedContainer(_ b: [UInt8]) -> String? {
        if b.count >= 8, Array(b[4..<8]) == Array("ftyp".utf8) { return "MP4/M4A" }
        if b.count >= 4, b[0] == 0x1A, b[1] == 0x45, b[2] == 0xDF, b[3] == 0xA3 { return "WebM/Matroska" }
        return nil
    }
}
