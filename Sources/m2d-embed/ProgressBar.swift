// ProgressBar: a one-line bar with rate and ETA on stderr, only when stderr is a terminal.
import Foundation

final class ProgressBar {
    let total: Int
    let enabled: Bool
    let start = Date()

    init(total: Int) {
        self.total = total
        enabled = isatty(STDERR_FILENO) != 0
    }

    func update(done: Int) {
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30, filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let line = String(format: "\r[%@] %d/%d files  %.1f files/s  ETA %@", bar, done, total, rate, Self.clock(eta))
        FileHandle.standardError.write(Data(line.utf8))
    }

    func clearLine() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600
            ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
