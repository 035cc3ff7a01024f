// ResultChart: grouped bars (one group per task, one bar per variant in palette order) with a
// whisker of +- one std, on a 0..100% axis with grid lines every 10%. No text: the table beside it
// names the groups and colors.
import Foundation

public enum ResultChart {
    /// groups[task][variant] = (mean, std) as fractions in 0...1.
    public static func png(groups: [[(mean: Double, std: Double)]], width: Int = 720, height: Int = 360) -> Data {
        var image = PNGImage(width: width, height: height)
        let left = 30, bottom = height - 20, top = 10, plotHeight = bottom - top
        func y(_ v: Double) -> Int { bottom - Int((min(max(v, 0), 1) * Double(plotHeight)).rounded()) }
        for tick in stride(from: 0.0, through: 1.0, by: 0.1) {
            image.line(left, y(tick), width - 10, y(tick), (225, 225, 225))
        }
        image.line(left, bottom, width - 10, bottom, (120, 120, 120))
        image.line(left, top, left, bottom, (120, 120, 120))
        guard !groups.isEmpty else { return image.encode() }
        let groupWidth = (width - left - 20) / groups.count
        for (g, bars) in groups.enumerated() {
            let barWidth = max(2, (groupWidth - 12) / max(bars.count, 1))
            for (k, bar) in bars.enumerated() {
                let x0 = left + 6 + g * groupWidth + k * barWidth, color = PNGImage.palette[k % PNGImage.palette.count]
                image.fill(x: x0..<(x0 + barWidth - 2), y: y(bar.mean)..<bottom, color)
                let mid = x0 + barWidth / 2 - 1
                image.line(mid, y(bar.mean + bar.std), mid, y(bar.mean - bar.std), (0, 0, 0))
                image.line(mid - 2, y(bar.mean + bar.std), mid + 2, y(bar.mean + bar.std), (0, 0, 0))
                image.line(mid - 2, y(bar.mean - bar.std), mid + 2, y(bar.mean - bar.std), (0, 0, 0))
            }
        }
        return image.encode()
    }
}
