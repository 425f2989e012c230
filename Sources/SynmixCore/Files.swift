import Foundation

public struct FileError: Error, Sendable, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }

    /// A skipped input as errors.jsonl and metrics.json list it.
    public var json: JSON { .object([("file", .string(path)), ("reason", .string(reason))]) }

    public init(json value: JSON, file: String) throws {
        let reader = FieldReader(value: value) { ManifestError(file: file, line: 1, reason: "error entry: \($0)") }
        self.init(path: try reader.string("file"), reason: try reader.string("reason"))
    }
}

public enum Files {
    /// A record id as a file-name stem: every character outside ASCII [A-Za-z0-9_-]
    /// becomes '-' (no dot, no slash). Shard keys, previews and prediction files use it.
    public static func safeName(_ id: String) -> String {
        String(id.unicodeScalars.map { scalar -> Character in
            let c = Character(scalar)
            return (c.isASCII && (c.isLetter || c.isNumber)) || c == "_" || c == "-" ? c : "-"
        })
    }

    /// Opens a regular file for reading and returns its descriptor and size. Opening is
    /// non-blocking, so a named pipe or a device in place of a file is refused instead of
    /// waiting forever for a writer.
    public static func openRegular(_ path: String) throws -> (descriptor: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw FileError(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw FileError(path: path, reason: reason)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FileError(path: path, reason: (info.st_mode & S_IFMT) == S_IFDIR ? "is a directory, not a file" : "not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (fd, Int(info.st_size))
    }

    /// `openRegular` as a stdio stream (for getline and fread loops).
    public static func openRegularStream(_ path: String) throws -> UnsafeMutablePointer<FILE> {
        let descriptor = try openRegular(path).descriptor
        guard let stream = fdopen(descriptor, "rb") else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw FileError(path: path, reason: reason)
        }
        return stream
    }

    /// Appends a file's bytes to `target` a megabyte at a time (memory stays at one chunk).
    public static func copy(_ path: String, into target: AtomicFile) throws {
        let stream = try openRegularStream(path)
        defer { fclose(stream) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, stream) }
            if count > 0 { try target.write(Array(chunk[..<count])) }
            if count < chunk.count {
                guard ferror(stream) == 0 else { throw FileError(path: path, reason: "read failed") }
                return
            }
        }
    }

    /// Reads a whole regular file with plain POSIX calls (no Data bridging on the hot path).
    public static func read(_ path: String) throws -> [UInt8] {
        let (fd, size) = try openRegular(path)
        defer { close(fd) }
        return try readWhole(fd, size: size, path: path)
    }

    /// A file's bytes, mapped read-only where the file system allows it (its pages are the page
    /// cache's: no copy into the process, no fresh pages to fault in and zero, as reading a
    /// multi-megabyte image into a new array costs), read otherwise.
    public static func contents(_ path: String) throws -> any ByteSource {
        let (fd, size) = try openRegular(path)
        defer { close(fd) }
        if let mapped = MappedFile(descriptor: fd, size: size) { return mapped }
        return try readWhole(fd, size: size, path: path)
    }

    /// All `size` bytes of an open file; one that is shorter by now is an error.
    private static func readWhole(_ fd: Int32, size: Int, path: String) throws -> [UInt8] {
        let bytes = try read(fd, upTo: size, path: path)
        guard bytes.count == size else { throw FileError(path: path, reason: "file shrank while reading") }
        return bytes
    }

    /// The first `count` bytes of a file (fewer if it is shorter): enough for a PNG header.
    public static func readPrefix(_ path: String, count: Int) throws -> [UInt8] {
        let (fd, size) = try openRegular(path)
        defer { close(fd) }
        return try read(fd, upTo: min(count, size), path: path)
    }

    /// Up to `count` bytes from a descriptor (fewer at its end).
    private static func read(_ fd: Int32, upTo count: Int, path: String) throws -> [UInt8] {
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = Foundation.read(fd, buffer.baseAddress! + done, count - done)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failure = String(cString: strerror(errno)) }
                if n <= 0 { break }
                done += n
            }
            initialized = done
        }
        if let failure { throw FileError(path: path, reason: failure) }
        return bytes
    }

    /// Refuses an output folder that is an input's folder (or the input file itself),
    /// symbolic links resolved: writing there would overwrite the input.
    public static func checkOutput(_ out: String, isNotInput input: String) throws {
        func resolved(_ path: String) -> String { URL(fileURLWithPath: absolute(path)).resolvingSymlinksInPath().standardizedFileURL.path }
        let output = resolved(out), source = resolved(input)
        let inputFolder = isDirectory(source) ? source : (source as NSString).deletingLastPathComponent
        guard output != inputFolder, output != source else {
            throw FileError(path: out, reason: "the output folder is the input's folder (\(input)): it would overwrite the input; choose another --out")
        }
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Sorted entries of a directory (names only); empty if it does not exist.
    public static func list(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    public static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: path, reason: "cannot create directory: \(error.localizedDescription)")
        }
    }

    /// Absolute, standardised form of a user-given path.
    public static func absolute(_ path: String) -> String {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path)
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path)
        return url.standardizedFileURL.path
    }

    /// Writes a file under a temporary name in the same folder, then renames
    /// it into place, so a reader never sees a half-written file.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let writer = try AtomicFile(path)
        try writer.write(bytes)
        try writer.commit()
    }

    public static func writeAtomically(_ text: String, to path: String) throws {
        try writeAtomically(Array(text.utf8), to: path)
    }
}

/// Bytes that are written and hashed as they are: an array, or a mapped file.
public protocol ByteSource: Sendable {
    var count: Int { get }
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ByteSource where Element == UInt8 {}

/// A regular file's bytes mapped read-only (`Files.contents`), unmapped when the last reference goes.
/// Only for inputs that nothing truncates while they are read (a dataset's images): a page
/// cut off under the mapping would end the process (SIGBUS) instead of raising an error.
public final class MappedFile: ByteSource, @unchecked Sendable {
    public let count: Int
    private let start: UnsafeMutableRawPointer?   // nil for an empty file (nothing to map)

    /// Nil where the file cannot be mapped (a file system without mmap).
    init?(descriptor: Int32, size: Int) {
        count = size
        guard size > 0 else { start = nil; return }
        // MAP_POPULATE maps every page now, in one call, instead of one fault per 64 KB later.
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, descriptor, 0)
        guard let address, address != MAP_FAILED else { return nil }
        start = address
    }

    deinit { if let start { munmap(start, count) } }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: start, count: count))
    }
}

/// A file written under `NAME.tmp` and renamed to `NAME` by `commit()`.
/// Without a commit (a crash, an error) only the temporary file remains.
public final class AtomicFile {
    public let path: String
    public let temporaryPath: String
    private let handle: UnsafeMutablePointer<FILE>
    private var committed = false

    public init(_ path: String) throws {
        self.path = path
        temporaryPath = path + ".tmp"
        guard let handle = fopen(temporaryPath, "wb") else {
            throw FileError(path: temporaryPath, reason: String(cString: strerror(errno)))
        }
        self.handle = handle
    }

    deinit {
        if !committed {
            fclose(handle)
            unlink(temporaryPath)
        }
    }

    public func write(_ bytes: some ByteSource) throws {
        guard bytes.withUnsafeBytes({ $0.isEmpty ? 0 : fwrite($0.baseAddress, 1, $0.count, handle) }) == bytes.count else {
            throw FileError(path: temporaryPath, reason: "write failed: \(String(cString: strerror(errno)))")
        }
    }

    public func write(_ text: String) throws { try write(Array(text.utf8)) }

    /// Pushes what was written to the temporary file (so that it can be read back before commit).
    public func flush() throws {
        guard fflush(handle) == 0 else { throw FileError(path: temporaryPath, reason: "cannot flush: \(String(cString: strerror(errno)))") }
    }

    /// Closes and renames into place. No fsync: the rename makes the file
    /// appear whole or not at all to any reader and after a crash of the
    /// process; against a power loss, stages that resume (pack-mix) re-hash
    /// what they find instead of trusting it, and fsyncing every shard cost
    /// more than copying its bytes.
    public func commit() throws {
        committed = true
        guard fflush(handle) == 0, fclose(handle) == 0 else {
            unlink(temporaryPath)
            throw FileError(path: temporaryPath, reason: "cannot flush: \(String(cString: strerror(errno)))")
        }
        guard rename(temporaryPath, path) == 0 else {
            throw FileError(path: path, reason: "cannot rename into place: \(String(cString: strerror(errno)))")
        }
    }
}

extension Files {
    /// The `mappings/` folder the tools use when none is named: `$SYNMIX_MAPPINGS`, else the first
    /// `mappings/` holding a taxonomy.yaml found walking up from the current directory, then from the
    /// executable's real location (so `.build/release/harmonize` finds the repository's own, also through
    /// a symlink or a PATH lookup), then `share/synmix/mappings` beside an installed executable's `bin/`
    /// (what `make install PREFIX=…` puts there).
    public static func defaultMappingsDirectory() -> String? {
        if let fromEnvironment = ProcessInfo.processInfo.environment["SYNMIX_MAPPINGS"] {
            return fromEnvironment
        }
        let executable = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
        for start in [URL(fileURLWithPath: FileManager.default.currentDirectoryPath), executable] {
            var folder = start.standardizedFileURL
            while true {
                let candidate = folder.appendingPathComponent("mappings")
                if exists(candidate.appendingPathComponent("taxonomy.yaml").path) { return candidate.path }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        let installed = executable.deletingLastPathComponent().appendingPathComponent("share/synmix/mappings")
        if exists(installed.appendingPathComponent("taxonomy.yaml").path) { return installed.standardizedFileURL.path }
        return nil
    }

    /// The running executable's own path: the kernel's record of it (`/proc/self/exe`), not `argv[0]`, which is a
    /// bare name when the shell found the tool on PATH.
    public static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
