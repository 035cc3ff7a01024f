// LossPlot: a loss curve as a small PNG: white background, grey axes, one curve per series
// (palette colors), each scaled to its own min..max so curves of different losses share a chart;
// the CSV beside it has the numbers.
import Foundation

public enum LossPlot {
    public static func png(values: [Double], width: Int = 640, height: Int = 360) -> Data {
        png(series: [values], width: width, height: height)
    }

    public static func png(series: [[Double]], width: Int = 640, height: Int = 360) -> Data {
        var image = PNGImage(width: width, height: height)
        let margin = 30, grey: PNGImage.Color = (120, 120, 120)
        image.line(margin, height - margin, width - 11, height - margin, grey)
        image.line(margin, 10, margin, height - margin, grey)
        let longest = series.map(\.count).max() ?? 0
        for (k, values) in series.enumerated() {
            let finite = values.filter(\.isFinite)
            guard finite.count >= 2, let lo = finite.min(), let hi = finite.max() else { continue }
            let span = max(hi - lo, 1e-12), color = PNGImage.palette[k % PNGImage.palette.count]
            var previous: (Int, Int)?
            for (i, v) in values.enumerated() where v.isFinite {
                let x = margin + Int(Double(i) / Double(max(longest - 1, 1)) * Double(width - margin - 11))
                let y = 10 + Int((hi - v) / span * Double(height - margin - 11))
                if let (px, py) = previous { image.line(px, py, x, y, color) }
                previous = (x, y)
            }
        }
        return image.encode()
    }
}
