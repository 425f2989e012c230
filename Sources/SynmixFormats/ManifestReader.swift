import Foundation
import SynmixCore

/// Streams a manifest one line at a time (constant memory whatever its size).
public final class ManifestReader {
    public let path: String
    private let handle: UnsafeMutablePointer<FILE>
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0
    public private(set) var lineNumber = 0
    /// Byte offset of the line `nextLine()` returned last (for random access later).
    public private(set) var lineOffset = 0

    /// A stage folder's manifest file.
    public static let fileName = "manifest.jsonl"

    /// The manifest a user names: a stage's output folder, or the file itself.
    public static func file(_ folderOrFile: String) -> String {
        Files.isDirectory(folderOrFile) ? "\(folderOrFile)/\(fileName)" : folderOrFile
    }

    public init(_ path: String) throws {
        self.path = path
        handle = try Files.openRegularStream(path)
    }

    deinit {
        free(buffer)
        fclose(handle)
    }

    /// The next non-empty line (without its newline), or nil at the end.
    public func nextLine() -> Substring? {
        while true {
            lineOffset = Int(ftello(handle))
            let length = getline(&buffer, &capacity, handle)
            guard length >= 0, let buffer else { return nil }
            lineNumber += 1
            var count = length
            while count > 0, buffer[count - 1] == 0x0A || buffer[count - 1] == 0x0D { count -= 1 }
            if count == 0 { continue }
            let bytes = UnsafeRawBufferPointer(start: buffer, count: count)
            return Substring(String(decoding: bytes, as: UTF8.self))
        }
    }

    /// Reads `length` bytes at `offset` (a line found earlier) without moving the stream.
    public func line(at offset: Int, length: Int) throws -> Substring {
        var bytes = [UInt8](repeating: 0, count: length)
        let n = pread(fileno(handle), &bytes, length, off_t(offset))
        guard n == length else { throw FileError(path: path, reason: "cannot read \(length) bytes at offset \(offset)") }
        return Substring(String(decoding: bytes, as: UTF8.self))
    }

    /// The next record, or nil at the end; a line that does not parse throws
    /// a ManifestError naming this file and line (the reader stays usable).
    public func nextRecord() throws -> ManifestRecord? {
        guard let line = nextLine() else { return nil }
        return try ManifestRecord(jsonLine: line, file: path, line: lineNumber)
    }
}
