// Runs one of the package's built executables and captures its output.
import Foundation

public struct CommandResult: Sendable {
    public let status: Int32
    /// The process ended on a signal (a trap is SIGILL or SIGTRAP); `status` is then its number.
    public var signalled = false
    public let stdout: Data
    public let stderr: String
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

public enum CommandRunner {
    /// The directory holding the built products (beside the test bundle).
    public static var productsDirectory: URL {
        let bundle = Bundle.main.bundleURL
        if FileManager.default.fileExists(atPath: bundle.appendingPathComponent("m2d-embed").path) { return bundle }
        return URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug")
    }

    public static func run(
        _ product: String, _ arguments: [String], environment: [String: String] = [:],
        directory: String? = nil
    ) throws -> CommandResult {
        try run(
            executable: productsDirectory.appendingPathComponent(product).path, arguments, environment: environment,
            directory: directory)
    }

    /// Any program (e.g. /usr/bin/mpirun), its output collected the same way.
    public static func run(
        executable: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil
    ) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Drain both pipes concurrently so a large output cannot block the child.
        nonisolated(unsafe) var errData = Data()
        let errThread = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        errThread.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errThread.isFinished { usleep(1000) }
        return CommandResult(
            status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal, stdout: outData,
            stderr: String(decoding: errData, as: UTF8.self))
    }
}
