// The model a command reads: a path that does not exist is a usage error (with the flag to fix); a
// model that exists but cannot be used (damaged, hostile, contradicting its weights) is reported as
// such and exits 1, as m2d-embed and m2d-server do.
import ArgumentParser
import Foundation
import M2DModel

func loadModel(_ path: String, command: String) throws -> LoadedModel {
    do { return try ModelDirectory.loadAny(path) } catch {
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("\(error)\nPass --model DIR.") }
        FileHandle.standardError.write(Data("m2d-train \(command): cannot load the model \(path): \(error)\n".utf8))
        throw ExitCode(1)
    }
}
