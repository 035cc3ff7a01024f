// ServerMetrics: the Prometheus metrics of docs/HTTP-API.md §6 on swift-prometheus's registry,
// plus process_* metrics read from /proc at scrape time (process_cpu_seconds_total is a counter,
// advanced by the CPU time used since the previous scrape).
import Foundation
import Prometheus

public final class ServerMetrics: @unchecked Sendable {
    // SAFETY: the registry and its metrics are thread-safe; `lastCPU` is guarded by `lock`.
    public let registry = PrometheusCollectorRegistry()
    static let durationBuckets: [Double] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60]
    let queueDepth, pendingChunks, inflight, ready, inflightAudio, inflightUpload, engineWeights: Gauge
    let audioSecondsTotal, cancelledRequests, cancelledChunks, textRequests, textsTotal: Counter
    let queueDuration, inferenceDuration, batchChunks, audioInputSeconds, textDuration: ValueHistogram
    private let residentMemory, startTime, openFDs: Gauge
    private let cpuSeconds: Counter
    private let lock = NSLock()
    private var lastCPU = 0.0

    public init(version: String, model: String, blas: String, engine: String = "", precision: String = "fp32") {
        let r = registry, d = Self.descriptor
        func gauge(_ name: String, _ unit: String, _ help: String) -> Gauge {
            r.makeGauge(descriptor: d(name, unit, help))
        }
        func counter(_ name: String, _ unit: String, _ help: String) -> Counter {
            r.makeCounter(descriptor: d(name, unit, help))
        }
        queueDepth = gauge("m2d_queue", "depth", "Requests waiting for or in the inference worker.")
        pendingChunks = gauge("m2d_pending", "chunks", "Chunks waiting for the encoder.")
        inflight = gauge("m2d_inflight", "requests", "Requests holding an admission slot.")
        ready = gauge("m2d", "ready", "1 when /health/ready answers 200.")
        inflightAudio = gauge("m2d_inflight_audio", "seconds", "Audio seconds charged to requests in flight.")
        inflightUpload = gauge("m2d_inflight_upload", "bytes", "Upload bytes held by requests in flight.")
        engineWeights = gauge("m2d_engine_weight", "bytes", "Bytes of the compute library's own copies of the weights.")
        audioSecondsTotal = counter("m2d_audio_seconds", "total", "Seconds of audio embedded.")
        cancelledRequests = counter("m2d_cancelled_requests", "total", "Requests whose client left before the answer.")
        cancelledChunks = counter("m2d_cancelled_chunks", "total", "Queued chunks dropped because their client left.")
        textRequests = counter("m2d_text_requests", "total", "Requests answered with text embeddings or zero-shot.")
        textsTotal = counter("m2d_texts", "total", "Texts embedded (candidate labels included, cached or not).")
        let durations = Self.durationBuckets
        queueDuration = r.makeValueHistogram(
            descriptor: d("m2d_queue_duration", "seconds", "Time from enqueue to the request's first batch."),
            buckets: durations)
        inferenceDuration = r.makeValueHistogram(
            descriptor: d("m2d_inference_duration", "seconds", "Time of one batched forward."), buckets: durations)
        batchChunks = r.makeValueHistogram(
            descriptor: d("m2d_batch", "chunks", "Chunks per encoder forward."),
            buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256])
        audioInputSeconds = r.makeValueHistogram(
            descriptor: d("m2d_audio_input", "seconds", "Duration of each input."),
            buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600])
        textDuration = r.makeValueHistogram(
            descriptor: d("m2d_text_duration", "seconds", "Time to embed one request's texts (queue included)."),
            buckets: durations)
        residentMemory = gauge("process_resident_memory", "bytes", "Resident memory size in bytes.")
        cpuSeconds = counter("process_cpu_seconds", "total", "User and system CPU time in seconds.")
        startTime = gauge("process_start_time", "seconds", "Start time since the epoch in seconds.")
        openFDs = gauge("process_open", "fds", "Open file descriptors.")
        startTime.set(Date().timeIntervalSince1970)
        let build = [
            ("version", version), ("model", model), ("blas", blas), ("engine", engine), ("precision", precision),
        ]
        r.makeGauge(descriptor: d("m2d_build", "info", "Build, model and engine information."), labels: build).set(1.0)
        for reason in ["overloaded", "budget"] { _ = rejectedCounter(reason) }
        for reason in ["header_timeout", "slow_body", "per_address", "drain"] { _ = connectionCounter(reason) }
    }

    private static func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: unit, helpText: help)
    }

    private func rejectedCounter(_ reason: String) -> Counter {
        registry.makeCounter(
            descriptor: Self.descriptor("m2d_rejected_requests", "total", "Requests rejected before inference."),
            labels: [("reason", reason)])
    }

    private func connectionCounter(_ reason: String) -> Counter {
        registry.makeCounter(
            descriptor: Self.descriptor(
                "m2d_connections_closed", "total", "Connections the server closed on its own."),
            labels: [("reason", reason)])
    }

    public func request(route: String, status: Int, seconds: Double, bytes: Int) {
        let d = Self.descriptor
        registry.makeCounter(
            descriptor: d("m2d_requests", "total", "HTTP requests by route and status code."),
            labels: [("route", route), ("code", String(status))]
        ).increment()
        registry.makeValueHistogram(
            descriptor: d("m2d_request_duration", "seconds", "End-to-end request time."),
            labels: [("route", route)], buckets: Self.durationBuckets
        ).record(seconds)
        registry.makeValueHistogram(
            descriptor: d("m2d_request_size", "bytes", "Request body sizes."),
            labels: [("route", route)], buckets: [1e3, 1e4, 1e5, 1e6, 5e6, 1e7, 2.5e7, 1e8]
        ).record(Double(bytes))
    }

    public func rejected(_ reason: String) { rejectedCounter(reason).increment() }

    /// A connection the daemon closed on its own, or a client that left ("client_gone").
    public func connectionEvent(_ reason: String) {
        if reason == "client_gone" { cancelledRequests.increment() } else { connectionCounter(reason).increment() }
    }

    public func decode(format: String, seconds: Double) {
        registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "m2d_decode_duration", unitName: "seconds",
                helpText: "Decode + resample + front end time per request."),
            labels: [("format", format)], buckets: Self.durationBuckets
        ).record(seconds)
    }

    public func textRequest(texts: Int, seconds: Double) {
        textRequests.increment()
        textsTotal.increment(by: Double(texts))
        textDuration.record(seconds)
    }

    public func classification(head: String) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "m2d_classifications", unitName: "total",
                helpText: "Classifications by head."),
            labels: [("head", head)]
        ).increment()
    }

    public struct Snapshot: Sendable {
        public var queueDepth = 0, pendingChunks = 0, inflight = 0, ready = false
        public var inflightAudioSeconds = 0.0, inflightUploadBytes = 0, engineWeightBytes = 0
        public init() {}
    }

    /// The text exposition, with gauges and process metrics refreshed.
    public func scrape(_ s: Snapshot) -> [UInt8] {
        queueDepth.set(Double(s.queueDepth))
        pendingChunks.set(Double(s.pendingChunks))
        inflight.set(Double(s.inflight))
        ready.set(s.ready ? 1.0 : 0.0)
        inflightAudio.set(s.inflightAudioSeconds)
        inflightUpload.set(Double(s.inflightUploadBytes))
        engineWeights.set(Double(s.engineWeightBytes))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " "),
            statm.count > 1,
            let pages = Double(statm[1])
        {
            residentMemory.set(pages * Double(sysconf(Int32(_SC_PAGESIZE))))
        }
        var usage = rusage()
        if getrusage(RUSAGE_SELF.rawValue, &usage) == 0 {
            let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
            let delta = lock.withLock { () -> Double in
                defer { lastCPU = max(lastCPU, user + system) }
                return max(0, user + system - lastCPU)
            }
            cpuSeconds.increment(by: delta)
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openFDs.set(Double(fds.count))
        }
        return registry.emitToBuffer()
    }
}
