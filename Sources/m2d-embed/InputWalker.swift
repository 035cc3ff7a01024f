// InputWalker: expands the command line into a sorted list of audio files.
import ArgumentParser
import Foundation
import M2DAudio

enum InputWalker {
    static func files(_ inputs: [String]) throws -> [String] {
        var result: [String] = []
        let fm = FileManager.default
        for input in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDir) else {
                throw ValidationError("no such file or folder: \(input)")
            }
            if !isDir.boolValue { result.append(input); continue }
            guard let walker = fm.enumerator(atPath: input) else { continue }
            var found: [String] = []
            for case let relative as String in walker
            where AudioFormat.isAudioFile(relative) {
                found.append((input as NSString).appendingPathComponent(relative))
            }
            result += found.sorted()
        }
        return result
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path)")
        }
        return [UInt8](data)
    }
}
