// LossPlot: a loss curve as a small PNG (no plotting library): white background, grey axes, the
// curve in blue, min/max labels left out on purpose (the CSV beside it has the numbers). PNG with
// stored (uncompressed) deflate blocks, which every decoder reads.
import Foundation

public enum LossPlot {
    public static func png(values: [Double], width: Int = 640, height: Int = 360) -> Data {
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let i = (y * width + x) * 3
            pixels[i] = c.0; pixels[i + 1] = c.1; pixels[i + 2] = c.2
        }
        let margin = 30
        for x in margin..<(width - 10) { set(x, height - margin, (120, 120, 120)) }
        for y in 10..<(height - margin) { set(margin, y, (120, 120, 120)) }
        let finite = values.filter(\.isFinite)
        if finite.count >= 2, let lo = finite.min(), let hi = finite.max() {
            let span = max(hi - lo, 1e-12)
            var previous: (Int, Int)?
            for (i, v) in values.enumerated() where v.isFinite {
                let x = margin + Int(Double(i) / Double(values.count - 1) * Double(width - margin - 11))
                let y = 10 + Int((hi - v) / span * Double(height - margin - 11))
                if let (px, py) = previous {
                    let steps = max(abs(x - px), abs(y - py), 1)
                    for s in 0...steps { set(px + (x - px) * s / steps, py + (y - py) * s / steps, (31, 119, 180)) }
                }
                previous = (x, y)
            }
        }
        var raw = [UInt8]()
        for y in 0..<height { raw.append(0); raw += pixels[(y * width * 3)..<((y + 1) * width * 3)] }
        var zlib: [UInt8] = [0x78, 0x01]
        var i = 0
        while i < raw.count {
            let n = min(65535, raw.count - i), last: UInt8 = i + n == raw.count ? 1 : 0
            zlib += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)] + raw[i..<(i + n)]
            i += n
        }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        zlib += be32((b << 16) | a)
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        out += chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [8, 2, 0, 0, 0])
        out += chunk("IDAT", zlib)
        out += chunk("IEND", [])
        return out
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

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
