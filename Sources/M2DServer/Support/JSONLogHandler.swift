// JSONLogHandler: one JSON object per line on stderr (--json-logs), for log shippers.
import Foundation
import Logging
import M2DJSON

public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        var w = JSONWriter(capacity: 256)
        w.raw("{\"ts\":")
        w.string(ISO8601DateFormatter().string(from: Date()))
        w.raw(",\"level\":")
        w.string(event.level.rawValue)
        w.raw(",\"logger\":")
        w.string(label)
        w.raw(",\"msg\":")
        w.string(event.message.description)
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) {
            w.byte(UInt8(ascii: ","))
            w.string(k)
            w.byte(UInt8(ascii: ":"))
            w.string(v.description)
        }
        w.raw("}\n")
        FileHandle.standardError.write(Data(w.bytes))
    }
}
