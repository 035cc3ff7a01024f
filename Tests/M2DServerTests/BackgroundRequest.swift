// BackgroundRequest: one HTTP request sent from its own thread, so a test can watch the server (or
// signal it) while the request is in flight, then read the answer and how long it took.
import Foundation
import TestSupport

final class BackgroundRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var response: TestResponse?
    private var seconds = 0.0
    private var finished = false

    /// Starts at once. A multipart body passes its own Content-Type in `headers`.
    init(
        port: Int, path: String = "/embed", headers: [String: String] = ["Content-Type": "audio/wav"],
        body: [UInt8]
    ) {
        let started = Date()
        Thread { [self] in
            let r = try? HTTPClient.request(port: port, method: "POST", path: path, headers: headers, body: body)
            lock.withLock {
                response = r
                seconds = Date().timeIntervalSince(started)
                finished = true
            }
        }.start()
    }

    var isFinished: Bool { lock.withLock { finished } }

    /// Waits for the answer: nil when the connection failed or was reset without one.
    func wait() -> TestResponse? {
        while !isFinished { usleep(10_000) }
        return lock.withLock { response }
    }

    /// The seconds from start to the end of the answer (after `wait`).
    var elapsed: Double { lock.withLock { seconds } }
}
