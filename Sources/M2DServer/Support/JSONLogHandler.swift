// JSONLogHandler: one JSON object per line on stderr (--json-logs), for log shippers.
import Foundation
import Logging

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
        let level = event.level, message = event.message
        var fields = metadata
        let extra = event.metadata
        if let extra { fields.merge(extra) { $1 } }
        var out = #"{"ts":\#(JSON.string(ISO8601DateFormatter().string(from: Date()))),"level":"\#(level.rawValue)","logger":\#(JSON.string(label)),"msg":\#(JSON.string(message.description))"#
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { out += ",\(JSON.string(k)):\(JSON.string(v.description))" }
        out += "}\n"
        FileHandle.standardError.write(Data(out.utf8))
    }
}
