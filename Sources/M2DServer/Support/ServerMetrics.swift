// ServerMetrics: the Prometheus metrics of PEERS-AND-API.md 3.6, on swift-prometheus's registry,
// plus process_* gauges read from /proc at scrape time.
import Foundation
import Prometheus

public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    static let durationBuckets: [Double] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30]
    let queueDepth: Gauge
    let inflight: Gauge
    let ready: Gauge
    let audioSecondsTotal: Counter
    let queueDuration: ValueHistogram
    let inferenceDuration: ValueHistogram
    let batchChunks: ValueHistogram
    let audioInputSeconds: ValueHistogram
    let residentMemory: Gauge
    let cpuSeconds: Gauge
    let startTime: Gauge
    let openFDs: Gauge

    public init(version: String, model: String, blas: String) {
        func d(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(metricName: name, unitName: unit, helpText: help)
        }
        queueDepth = registry.makeGauge(descriptor: d("m2d_queue", "depth", "Requests waiting for the inference worker."))
        inflight = registry.makeGauge(descriptor: d("m2d_inflight", "requests", "Requests holding an admission slot."))
        ready = registry.makeGauge(descriptor: d("m2d", "ready", "1 when /health/ready answers 200."))
        audioSecondsTotal = registry.makeCounter(descriptor: d("m2d_audio_seconds", "total", "Seconds of audio embedded."))
        queueDuration = registry.makeValueHistogram(descriptor: d("m2d_queue_duration", "seconds", "Time from enqueue to batch start."), buckets: Self.durationBuckets)
        inferenceDuration = registry.makeValueHistogram(descriptor: d("m2d_inference_duration", "seconds", "Time of one batched forward."), buckets: Self.durationBuckets)
        batchChunks = registry.makeValueHistogram(descriptor: d("m2d_batch", "chunks", "Chunks per encoder forward."), buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256])
        audioInputSeconds = registry.makeValueHistogram(descriptor: d("m2d_audio_input", "seconds", "Duration of each input."), buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600])
        residentMemory = registry.makeGauge(descriptor: d("process_resident_memory", "bytes", "Resident memory size in bytes."))
        cpuSeconds = registry.makeGauge(descriptor: d("process_cpu_seconds", "total", "User and system CPU time in seconds."))
        startTime = registry.makeGauge(descriptor: d("process_start_time", "seconds", "Start time since the epoch in seconds."))
        openFDs = registry.makeGauge(descriptor: d("process_open", "fds", "Open file descriptors."))
        startTime.set(Date().timeIntervalSince1970)
        registry.makeGauge(descriptor: d("m2d_build", "info", "Build and model information."),
                           labels: [("version", version), ("model", model), ("blas", blas)]).set(1.0)
        _ = registry.makeCounter(descriptor: d("m2d_rejected_requests", "total", "Requests rejected before inference."), labels: [("reason", "overloaded")])
    }

    public func request(route: String, status: Int, seconds: Double, bytes: Int) {
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "m2d_requests", unitName: "total", helpText: "HTTP requests by route and status code."),
                             labels: [("route", route), ("code", String(status))]).increment()
        registry.makeValueHistogram(descriptor: MetricNameDescriptor(metricName: "m2d_request_duration", unitName: "seconds", helpText: "End-to-end request time."),
                                    labels: [("route", route)], buckets: Self.durationBuckets).record(seconds)
        registry.makeValueHistogram(descriptor: MetricNameDescriptor(metricName: "m2d_request_size", unitName: "bytes", helpText: "Request body sizes."),
                                    labels: [("route", route)], buckets: [1e3, 1e4, 1e5, 1e6, 5e6, 1e7, 2.5e7, 1e8]).record(Double(bytes))
    }

    public func rejected(_ reason: String) {
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "m2d_rejected_requests", unitName: "total", helpText: "Requests rejected before inference."),
                             labels: [("reason", reason)]).increment()
    }

    public func decode(format: String, seconds: Double) {
        registry.makeValueHistogram(descriptor: MetricNameDescriptor(metricName: "m2d_decode_duration", unitName: "seconds", helpText: "Decode + resample + front end time per request."),
                                    labels: [("format", format)], buckets: Self.durationBuckets).record(seconds)
    }

    public func classification(head: String) {
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "m2d_classifications", unitName: "total", helpText: "Classifications by head."),
                             labels: [("head", head)]).increment()
    }

    /// The text exposition, with process gauges refreshed.
    public func scrape(queueDepth depth: Int, inflight n: Int, ready isReady: Bool) -> [UInt8] {
        queueDepth.set(Double(depth))
        inflight.set(Double(n))
        ready.set(isReady ? 1.0 : 0.0)
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " "), statm.count > 1,
           let pages = Double(statm[1]) {
            residentMemory.set(pages * Double(sysconf(Int32(_SC_PAGESIZE))))
        }
        var usage = rusage()
        if getrusage(RUSAGE_SELF.rawValue, &usage) == 0 {
            let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
            cpuSeconds.set(user + system)
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") { openFDs.set(Double(fds.count)) }
        return registry.emitToBuffer()
    }
}
