// Monotonic time helpers.
import Dispatch

enum Clock {
    static var nanos: UInt64 { DispatchTime.now().uptimeNanoseconds }
    static func ms(since start: UInt64) -> Double { Double(nanos &- start) / 1e6 }
    static func seconds(_ nanos: UInt64) -> Double { Double(nanos) / 1e9 }
}
