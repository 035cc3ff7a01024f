// Hardening, slow and greedy clients: request heads have a deadline, bodies a minimum rate, one
// address a connection limit, and health and metrics answer on the admin port when the main
// connection table is full. Black-box over loopback sockets against a real daemon.
import Foundation
import M2DServer
import Testing
import TestSupport

/// Sends `prefix`, then one byte of `drip` every `interval` seconds until the server closes the
/// connection; returns the seconds that took, or nil if it was still open after `limit`.
func secondsUntilClosed(
    _ fd: Int32, prefix: [UInt8], drip: UInt8 = UInt8(ascii: "x"), interval: Double, limit: Double
) -> Double? {
    let start = Date()
    var probe = [UInt8](repeating: 0, count: 4096)
    var tv = timeval(tv_sec: 0, tv_usec: Int(interval * 1e6))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    guard HTTPClient.send(fd, prefix) else { return Date().timeIntervalSince(start) }
    while Date().timeIntervalSince(start) < limit {
        let n = recv(fd, &probe, probe.count, 0)
        if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return Date().timeIntervalSince(start) }
        if n > 0 { continue }  // an answer (408-like) may arrive before the close
        if !HTTPClient.send(fd, [drip]) { return Date().timeIntervalSince(start) }
    }
    return nil
}

@Suite(.serialized) struct SlowClientTests {
    @Test func slowHeadsAreCutAtTheHeaderDeadline() throws {
        try TestServer.with(configure: { $0.connections.headerTimeout = 1 }) { s in
            let fd = try HTTPClient.connect(port: s.port)
            defer { close(fd) }
            let took = secondsUntilClosed(
                fd, prefix: Array("POST /embed HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8), interval: 0.2, limit: 6)
            #expect(
                took != nil && took! < 2.5,
                "a head trickled a byte every 0.2 s stayed open \(String(describing: took)) s")
            // An idle keep-alive connection is closed by the same deadline.
            let idle = try HTTPClient.connect(port: s.port)
            defer { close(idle) }
            HTTPClient.send(idle, Array("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            let closedAfter = secondsUntilClosed(idle, prefix: [], interval: 0.2, limit: 6)
            #expect(closedAfter != nil && closedAfter! < 2.5)
            #expect(
                metric(try s.get("/metrics").text, "m2d_connections_closed_total{reason=\"header_timeout\"}") ?? 0 >= 2)
        }
    }

    @Test func slowBodiesAreCutBelowTheMinimumRate() throws {
        try TestServer.with(configure: {
            $0.connections.receiveGrace = 1; $0.connections.minReceiveRate = 2000
        }) { s in
            let fd = try HTTPClient.connect(port: s.port)
            defer { close(fd) }
            let head = Array(
                "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nContent-Length: 100000\r\n\r\n".utf8)
            let took = secondsUntilClosed(fd, prefix: head, interval: 0.3, limit: 8)
            #expect(took != nil && took! < 3.5, "a body at 3 bytes/s stayed open \(String(describing: took)) s")
            #expect(metric(try s.get("/metrics").text, "m2d_connections_closed_total{reason=\"slow_body\"}") == 1)
            // A slow but honest upload (about 40 KB/s) is served.
            let wav = audio("five_sec_tone_noise")
            let honest = try HTTPClient.connect(port: s.port)
            defer { close(honest) }
            HTTPClient.send(
                honest,
                Array(
                    ("POST /embed HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: audio/wav\r\n"
                        + "Content-Length: \(wav.count)\r\n\r\n").utf8))
            var at = 0
            while at < wav.count {
                HTTPClient.send(honest, Array(wav[at..<min(wav.count, at + 8000)]))
                at += 8000
                usleep(200_000)
            }
            let r = try HTTPClient.parse(HTTPClient.readToEnd(honest) ?? [])
            #expect(r.status == 200)
        }
    }

    /// An address may leave `perAddressLimit` connections idle: past the grace the rest are closed
    /// (longest idle first), and a request on yet another connection is answered 429 with Retry-After
    /// and Connection: close, never dropped unanswered. Connections at work do not count: a burst of
    /// requests from the same address is served whole beside the idle ones, and so is another address.
    @Test func oneAddressCannotHoldEveryConnection() throws {
        try TestServer.with(configure: {
            $0.connections.perAddressLimit = 4; $0.connections.idleGrace = 0.5
        }) { s in
            let held = try (0..<10).map { _ in try HTTPClient.connect(port: s.port) }
            defer { held.forEach { close($0) } }
            // Within the grace nothing counts yet.
            let early = try HTTPClient.request(port: s.port, method: "GET", path: "/health/live")
            #expect(early.status == 200)
            var open = held.count
            for _ in 0..<40 where open > 4 {
                usleep(100_000)
                open = held.filter { peerOpen($0) }.count
            }
            #expect(open == 4, "\(open) idle connections left open; the share is 4")
            let metrics = try s.get("/metrics", admin: true).text
            #expect(metric(metrics, "m2d_connections_closed_total{reason=\"per_address\"}") == 6)
            let over = try HTTPClient.request(port: s.port, method: "GET", path: "/health/live")
            #expect(over.status == 429 && over.headers["retry-after"] == "1", "\(over.status) \(over.text)")
            #expect(
                over.headers["connection"]?.lowercased() == "close" && over.text.contains("--max-connections-per-ip"))
            let other = try HTTPClient.request(
                port: s.port, method: "POST", path: "/embed", headers: ["Content-Type": "audio/wav"],
                body: audio("short_chirp"), from: "127.0.0.2")
            #expect(other.status == 200)
            // Busy connections are not idle: once the idle ones are gone, a burst of 12 from this address is served.
            held.forEach { shutdown($0, Int32(SHUT_RDWR)) }
            usleep(300_000)
            let burst = (0..<12).map { _ in BackgroundRequest(port: s.port, body: audio("short_chirp")) }
            #expect(burst.map { $0.wait()?.status ?? 0 } == Array(repeating: 200, count: 12))
        }
    }

    /// The attack of the hardening issue: 300 connections send their headers, then a byte every few
    /// seconds. With the defaults (32 per address), another client still embeds and the admin port
    /// still answers; the slow ones are cut once their grace ends.
    @Test func threeHundredSlowConnectionsStarveNobody() throws {
        try TestServer.with(configure: {
            $0.connections.receiveGrace = 2; $0.connections.minReceiveRate = 1000
        }) { s in
            let head = Array(
                "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nContent-Length: 1000000\r\n\r\n".utf8)
            var slow: [Int32] = []
            defer { slow.forEach { close($0) } }
            for _ in 0..<300 {
                guard let fd = try? HTTPClient.connect(port: s.port, timeout: 1) else { continue }
                HTTPClient.send(fd, head)
                slow.append(fd)
            }
            let start = Date()
            #expect(try s.get("/health/live", admin: true).status == 200)
            #expect(try s.get("/metrics", admin: true).status == 200)
            let embed = try HTTPClient.request(
                port: s.port, method: "POST", path: "/embed", headers: ["Content-Type": "audio/wav"],
                body: audio("short_chirp"), timeout: 10, from: "127.0.0.2")
            #expect(embed.status == 200)
            #expect(Date().timeIntervalSince(start) < 3)
            // Dripping a byte a second keeps no one past the grace.
            var open = slow.count
            let deadline = Date(timeIntervalSinceNow: 8)
            while open > 0 && Date() < deadline {
                open = slow.filter { HTTPClient.send($0, [0x41]) && peerOpen($0) }.count
                usleep(500_000)
            }
            #expect(open == 0, "\(open) slow connections still open")
            #expect(try s.get("/health/live").status == 200)
        }
    }

    /// With no per-address limit the table can fill; the admin port has its own.
    @Test func theAdminPortAnswersWhenTheMainTableIsFull() throws {
        try TestServer.with(configure: {
            $0.connections.limit = 16; $0.connections.perAddressLimit = 0
        }) { s in
            let held = (0..<40).compactMap { _ in try? HTTPClient.connect(port: s.port, timeout: 1) }
            defer { held.forEach { close($0) } }
            let start = Date()
            #expect(try s.get("/health/live", admin: true).status == 200)
            #expect(try s.get("/health/ready", admin: true).status == 200)
            #expect(try s.get("/metrics", admin: true).text.contains("m2d_ready 1"))
            #expect(Date().timeIntervalSince(start) < 1)
            let inference = try s.get("/embed", admin: true)
            #expect(inference.status == 404 && inference.text.contains("admin port"))
        }
    }
}

/// False once the peer has closed (a read returns 0) or the socket failed.
func peerOpen(_ fd: Int32) -> Bool {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&p, 1, 0) > 0 else { return true }
    var byte: UInt8 = 0
    return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
}
