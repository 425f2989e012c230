import Foundation

/// POSIX tar as WebDataset shards use it (docs/formats.md, "Shards"): ustar headers
/// (a pax header only when a name needs it), mode 0644, uid/gid 0, empty
/// owner names, mtime 0; two zero blocks at the end and padding to a
/// multiple of 10 240 bytes, as tar and Python's tarfile write.
public enum Tar {
    public static let block = 512
    public static let record = 10_240

    /// The bytes of one member: header(s), data, padding to a block.
    public static func member(name: String, data: [UInt8]) -> [UInt8] {
        headers(name: name, size: data.count) + data + [UInt8](repeating: 0, count: padding(data.count))
    }

    /// The header block(s) of a member of `size` bytes: ustar, preceded by a pax
    /// header when the name does not fit ustar's 100 ASCII bytes.
    public static func headers(name: String, size: Int) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        guard nameBytes.count > 100 || nameBytes.contains(where: { $0 >= 0x80 }) else {
            return header(name: nameBytes, size: size, type: UInt8(ascii: "0"))
        }
        // "<length> path=<name>\n", where length counts its own digits too.
        let rest = " path=\(name)\n".utf8.count
        var length = rest + String(rest).count
        if String(length).count + rest != length { length = String(length).count + rest }
        let record = Array("\(length) path=\(name)\n".utf8)
        return header(name: Array("././@PaxHeader".utf8), size: record.count, type: UInt8(ascii: "x"))
            + record + [UInt8](repeating: 0, count: padding(record.count))
            + header(name: Array(nameBytes.prefix(100)), size: size, type: UInt8(ascii: "0"))
    }

    /// The end of an archive of `written` bytes so far: two zero blocks, then zeros to a record boundary.
    public static func trailer(after written: Int) -> [UInt8] {
        let withEnd = written + 2 * block
        let total = (withEnd + record - 1) / record * record
        return [UInt8](repeating: 0, count: total - written)
    }

    /// Zero bytes after `size` bytes of member data, up to the next block.
    public static func padding(_ size: Int) -> Int { (block - size % block) % block }

    private static func octal(_ value: Int, width: Int) -> [UInt8] {
        let digits = String(value, radix: 8)
        return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
    }

    private static func header(name: [UInt8], size: Int, type: UInt8) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: block)
        func put(_ bytes: [UInt8], at offset: Int) { for (i, b) in bytes.enumerated() { h[offset + i] = b } }
        put(name, at: 0)
        put(octal(0o644, width: 8), at: 100)      // mode
        put(octal(0, width: 8), at: 108)          // uid
        put(octal(0, width: 8), at: 116)          // gid
        put(octal(size, width: 12), at: 124)      // size
        put(octal(0, width: 12), at: 136)         // mtime
        put([UInt8](repeating: 0x20, count: 8), at: 148)   // checksum field counts as spaces
        h[156] = type
        put(Array("ustar".utf8) + [0] + Array("00".utf8), at: 257)
        let checksum = h.reduce(0) { $0 + Int($1) }
        put(octal(checksum, width: 7) + [0x20], at: 148)   // "%06o\0 "
        return h
    }

    /// One member read back.
    public struct Member: Sendable {
        public var name: String
        public var offset: Int      // of its (first) header
        public var data: ArraySlice<UInt8>

        /// WebDataset's grouping rule: a sample's key is the file name up to its first dot,
        /// its extension the rest ("a/b.seg.png" → key "b", extension "seg.png").
        public var sampleKey: Substring {
            let base = name.split(separator: "/").last ?? Substring(name)
            return base.prefix { $0 != "." }
        }
        public var sampleExtension: Substring {
            let base = name.split(separator: "/").last ?? Substring(name)
            return base.firstIndex(of: ".").map { base[base.index(after: $0)...] } ?? ""
        }
    }

    public struct ReadError: Error, CustomStringConvertible, Equatable {
        public var offset: Int
        public var reason: String
        public var description: String { "at byte \(offset): \(reason)" }
    }

    /// Parses a whole archive: ustar, GNU long names ('L') and pax ('x', 'g')
    /// headers. Unlike Python's tarfile, a bad checksum or a truncated member
    /// anywhere is an error, not a silent end.
    public static func read(_ bytes: [UInt8]) throws -> [Member] {
        let (members, error) = readMembers(bytes)
        if let error { throw error }
        return members
    }

    /// Like `read`, but keeps the members before a damaged or truncated part
    /// (a reader can use them and report the error with its offset).
    public static func readMembers(_ bytes: [UInt8]) -> (members: [Member], error: ReadError?) {
        let reader = Reader(bytes: bytes)
        var members: [Member] = []
        do {
            while let member = try reader.next() { members.append(member) }
            return (members, nil)
        } catch {
            return (members, error)
        }
    }

    /// Reads members one at a time, from memory or straight from a file (memory then
    /// holds one member, not the archive). The first damage throws, with its offset.
    public final class Reader {
        private let bytes: [UInt8]?
        private let handle: FileHandle?
        private var position = 0
        private var longName: String?
        /// Members that are not regular files (links, folders, devices, FIFOs), passed over by `next()`
        /// as WebDataset passes over them; `pack-mix verify` reports each: pack-mix writes none.
        public private(set) var otherMembers: [(name: String, offset: Int, type: Character)] = []

        public init(bytes: [UInt8]) {
            self.bytes = bytes
            handle = nil
        }

        public init(path: String) throws {
            let handle = FileHandle(fileDescriptor: try Files.openRegular(path).descriptor, closeOnDealloc: true)
            self.handle = handle
            bytes = nil
        }

        deinit { try? handle?.close() }

        /// Up to `count` bytes at the current position (fewer at the end), and advances.
        private func take(_ count: Int) -> ArraySlice<UInt8> {
            defer { position += count }
            if let bytes { return bytes[min(position, bytes.count)..<min(position + count, bytes.count)] }
            guard let handle, count > 0 else { return [] }
            return ArraySlice((try? handle.read(upToCount: count)).map { [UInt8]($0) } ?? [])
        }

        /// The next regular file member, or nil after the end-of-archive block.
        public func next() throws(ReadError) -> Member? {
            while true {
                let offset = position
                let h = take(block)
                guard h.count == block else {
                    throw ReadError(offset: offset, reason: "archive ends without its two zero blocks (truncated)")
                }
                if h.allSatisfy({ $0 == 0 }) { return nil }
                let stored = parseOctal(h, from: 148, width: 8)
                var sum = 0
                for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(b) }
                guard stored == sum else { throw ReadError(offset: offset, reason: "header checksum mismatch") }
                guard let size = parseOctal(h, from: 124, width: 12) else { throw ReadError(offset: offset, reason: "bad size field") }
                // Checked before reading: the declared size is what would be allocated.
                guard size <= maxMemberSize else {
                    throw ReadError(offset: offset, reason: "member declares \(size) bytes, more than the \(maxMemberSize) a sample file may have")
                }
                let type = h[h.startIndex + 156]
                let data = take(size)
                guard data.count == size else { throw ReadError(offset: offset, reason: "member data truncated (\(size) bytes declared)") }
                _ = take(padding(size))
                switch type {
                case UInt8(ascii: "L"):
                    longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
                case UInt8(ascii: "x"):
                    longName = paxPath(data) ?? longName
                case UInt8(ascii: "g"):
                    break
                default:
                    var name = longName ?? cString(h, from: 0, width: 100)
                    if longName == nil, Array(h[h.startIndex + 257..<h.startIndex + 262]) == Array("ustar".utf8) {
                        let prefix = cString(h, from: 345, width: 155)
                        if !prefix.isEmpty { name = prefix + "/" + name }
                    }
                    longName = nil
                    if type == UInt8(ascii: "0") || type == 0 || type == UInt8(ascii: "7") {
                        return Member(name: name, offset: offset, data: data)
                    }
                    otherMembers.append((name, offset, Character(Unicode.Scalar(type))))
                }
            }
        }
    }

    fileprivate static func cString(_ h: ArraySlice<UInt8>, from: Int, width: Int) -> String {
        let field = h[h.startIndex + from..<h.startIndex + from + width]
        return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// A header number: octal digits only (no sign, no base-256 form), so never negative.
    fileprivate static func parseOctal(_ h: ArraySlice<UInt8>, from: Int, width: Int) -> Int? {
        let text = cString(h, from: from, width: width).trimmingCharacters(in: " ")
        guard text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) }) else { return nil }
        return text.isEmpty ? 0 : Int(text, radix: 8)
    }

    /// The largest member a reader accepts: one image or record of a sample (an 8-bit RGB
    /// PNG at the 64 M pixel budget is under 200 MB).
    public static let maxMemberSize = 512 << 20

    fileprivate static func paxPath(_ data: ArraySlice<UInt8>) -> String? {
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            let field = line[line.index(after: space)...]
            if field.hasPrefix("path=") { return String(field.dropFirst(5)) }
        }
        return nil
    }
}

private extension String {
    func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text = text.dropFirst() }
        while text.last == set { text = text.dropLast() }
        return String(text)
    }
}
