import Foundation
import SynmixCore
import Synchronization
import SynmixFormats

// Helpers every test target shares: where the repository is, fresh temporary
// folders, and running the Python interop peers.

/// The repository's root (for mappings/, fixtures/, Tests/interop/, examples/).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
public let mappingsFolder = "\(repositoryRoot)/mappings"
public let fixturesFolder = "\(repositoryRoot)/fixtures"
public let taxonomyPath = "\(mappingsFolder)/taxonomy.yaml"

/// This test process's folder for temporary files: every file a test writes, and every fixture built lazily for
/// several tests, goes below it. Making it removes whatever else is in synmix-tests/ but the folders of live test
/// processes (nothing deleted them, and runs piled up until the disk was full), so one run's worth remains.
let processTemporaryRoot: String = {
    let root = NSTemporaryDirectory() + "synmix-tests"
    for entry in Files.list(root) {
        let fields = entry.split(separator: "-")
        if fields.count > 2, fields[0] == "run", let pid = Int32(fields[1]), kill(pid, 0) == 0 { continue }   // a live process's
        try? FileManager.default.removeItem(atPath: "\(root)/\(entry)")
    }
    return "\(root)/run-\(getpid())-\(UUID().uuidString.prefix(8))"
}()

/// A new, empty folder named after the calling test.
public func temporaryFolder(_ name: String = #function) throws -> String {
    let path = processTemporaryRoot + "/\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The interpreter with the interop requirements (`make test` sets SYNMIX_PYTHON to .venv's);
/// nil when unset, and the interop tests are then skipped.
public var interopPython: String? { ProcessInfo.processInfo.environment["SYNMIX_PYTHON"] }
public let interopSkipReason = "SYNMIX_PYTHON is not set: run `make test` for the Python interoperability checks"

/// Runs a program and returns its exit status and standard output (its standard error is passed on).
public func runProgram(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let result = try runProgramCapturingErrors(executable, arguments)
    FileHandle.standardError.write(Data(result.errors.utf8))
    return (result.status, result.output)
}

/// Every record of a manifest (a folder holding manifest.jsonl, or the file).
public func readManifest(_ path: String) throws -> [ManifestRecord] {
    let reader = try ManifestReader(ManifestReader.file(path))
    var records: [ManifestRecord] = []
    while let record = try reader.nextRecord() { records.append(record) }
    return records
}

/// Runs a program (in `folder`, with `environment` when given) and returns its exit status, standard output and standard error.
public func runProgramCapturingErrors(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                                      in folder: String? = nil) throws -> (status: Int32, output: String, errors: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    // Read both pipes concurrently so that neither fills up and blocks the child.
    let errorData = Mutex(Data())
    let group = DispatchGroup()
    let errorHandle = errors.fileHandleForReading
    DispatchQueue.global().async(group: group) { errorData.withLock { $0 = errorHandle.readDataToEndOfFile() } }
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    group.wait()
    return (process.terminationStatus, String(decoding: outputData, as: UTF8.self),
            String(decoding: errorData.withLock { $0 }, as: UTF8.self))
}

/// Starts a program (standard output discarded) and SIGKILLs it once `ready()` holds, or after
/// 60 s; returns how it ended (`.uncaughtSignal` when the kill ended it, not its own exit).
public func runKilled(_ executable: String, _ arguments: [String], when ready: () -> Bool) throws -> Process.TerminationReason {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(60)
    while !ready() && Date() < deadline { usleep(2_000) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    return process.terminationReason
}

/// A stage executable built beside the tests (`swift build --build-tests` builds them all).
public func builtExecutable(_ name: String) -> String? {
    let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
    return [besideTests, "\(repositoryRoot)/.build/debug/\(name)"].first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// A valid 8-bit gray 4×4 PNG whose IHDR then claims another size (CRC fixed up).
public func pngDeclaring(width: UInt32, height: UInt32) throws -> [UInt8] {
    var bytes = try PNGCodec.encode(Raster<UInt8>(width: 4, height: 4, channels: 1, filling: 7))
    for (offset, value) in [(16, width), (20, height)] {
        for k in 0..<4 { bytes[offset + k] = UInt8((value >> (24 - 8 * UInt32(k))) & 0xff) }
    }
    let crc = bytes[12..<29].reduce(into: UInt32(0xffff_ffff)) { crc, byte in
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    } ^ 0xffff_ffff
    for k in 0..<4 { bytes[29 + k] = UInt8((crc >> (24 - 8 * UInt32(k))) & 0xff) }
    return bytes
}

/// Runs a program to its end and returns its exit status and its own peak resident memory
/// (wait4's ru_maxrss: this child alone, not the test process nor earlier children).
public func runMeasuringPeakMemory(_ executable: String, _ arguments: [String]) throws -> (status: Int32, peakMiB: Int) {
    var pid: pid_t = 0
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    guard spawned == 0 else { throw FileError(path: executable, reason: "posix_spawn failed: \(spawned)") }
    var status: Int32 = 0
    var usage = rusage()
    guard wait4(pid, &status, 0, &usage) == pid else { throw FileError(path: executable, reason: "wait4 failed") }
    let exited = status & 0x7f == 0
    return (exited ? (status >> 8) & 0xff : -(status & 0x7f), usage.ru_maxrss / 1024)
}

/// The Debian packages `make deps` installs (the Makefile's APT_PACKAGES), in its order.
public func makefileDebianPackages() throws -> [String] {
    let makefile = try String(contentsOfFile: "\(repositoryRoot)/Makefile", encoding: .utf8)
    guard let line = makefile.split(separator: "\n").first(where: { $0.hasPrefix("APT_PACKAGES :=") }) else {
        throw FileError(path: "\(repositoryRoot)/Makefile", reason: "no APT_PACKAGES line")
    }
    return line.dropFirst("APT_PACKAGES :=".count).split(separator: " ").map(String.init)
}
