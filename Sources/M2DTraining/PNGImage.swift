// PNGImage: an RGB canvas written as PNG without a library: stored (uncompressed) deflate blocks,
// which every decoder reads. Enough for the loss curve and the ablation chart.
import Foundation

public struct PNGImage {
    public typealias Color = (UInt8, UInt8, UInt8)
    public let width: Int, height: Int
    private var pixels: [UInt8]

    /// Colors for series and bars, distinguishable on white (matplotlib's tab10).
    public static let palette: [Color] = [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    ]

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 255, count: width * height * 3)
    }

    public mutating func set(_ x: Int, _ y: Int, _ c: Color) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.0; pixels[i + 1] = c.1; pixels[i + 2] = c.2
    }

    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: Color) {
        let steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for s in 0...steps { set(x0 + (x1 - x0) * s / steps, y0 + (y1 - y0) * s / steps, c) }
    }

    public mutating func fill(x: Range<Int>, y: Range<Int>, _ c: Color) {
        for yy in y { for xx in x { set(xx, yy, c) } }
    }

    public func encode() -> Data {
        var raw = [UInt8]()
        raw.reserveCapacity((width * 3 + 1) * height)
        for y in 0..<height { raw.append(0); raw += pixels[(y * width * 3)..<((y + 1) * width * 3)] }
        var zlib: [UInt8] = [0x78, 0x01]
        var i = 0
        while i < raw.count {
            let n = min(65535, raw.count - i), last: UInt8 = i + n == raw.count ? 1 : 0
            zlib +=
                [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)] + raw[i..<(i + n)]
            i += n
        }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        zlib += Self.be32((b << 16) | a)
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        out += Self.chunk("IHDR", Self.be32(UInt32(width)) + Self.be32(UInt32(height)) + [8, 2, 0, 0, 0])
        out += Self.chunk("IDAT", zlib)
        out += Self.chunk("IEND", [])
        return out
    }

    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> Data {
        let body = Array(type.utf8) + data
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in body {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return Data(be32(UInt32(data.count)) + body + be32(~crc))
    }
}
