// Element types a safetensors file may hold that we read.

public enum DType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"

    public var byteSize: Int { self == .f32 ? 4 : 2 }
}
