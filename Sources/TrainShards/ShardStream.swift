import Foundation
import SynmixCore

/// Shard lists as users write them: a brace range `mix-{000000..000012}.tar`
/// (zero padding kept) or a glob `mix-*.tar`, comma-free, expanded in order.
public enum ShardList {
    public static func expand(_ pattern: String) throws -> [String] {
        if let open = pattern.firstIndex(of: "{"), let close = pattern[open...].firstIndex(of: "}") {
            let inside = pattern[pattern.index(after: open)..<close]
            let parts = inside.components(separatedBy: "..")
            guard parts.count == 2, let first = Int(parts[0]), let last = Int(parts[1]), first <= last else {
                throw FileError(path: pattern, reason: "a brace range must read {FIRST..LAST} with FIRST <= LAST")
            }
            let width = parts[0].count
            let prefix = String(pattern[..<open]), suffix = String(pattern[pattern.index(after: close)...])
            return try (first...last).flatMap { n -> [String] in
                let digits = String(n)
                return try expand(prefix + String(repeating: "0", count: max(0, width - digits.count)) + digits + suffix)
            }
        }
        if pattern.contains("*") || pattern.contains("?") {
            let folder = (pattern as NSString).deletingLastPathComponent, name = (pattern as NSString).lastPathComponent
            let matches = Files.list(folder.isEmpty ? "." : folder).filter { fnmatch(name, $0, 0) == 0 }
            guard !matches.isEmpty else { throw FileError(path: pattern, reason: "no shard matches") }
            return matches.map { folder.isEmpty ? $0 : "\(folder)/\($0)" }
        }
        return [pattern]
    }
}

/// One training sample as read from a shard: its key, parsed JSON and encoded image.
public struct ShardSample: Sendable {
    public var key: String
    public var json: JSON
    public var image: [UInt8]
    public var imageFormat: String
}

/// Streams samples from shards: each epoch visits the shards in a new seeded
/// order, reads them sequentially, and shuffles through a bounded buffer
/// (memory is the buffer, not the dataset), as webdataset's shuffle does.
public struct ShardStream: Sendable {
    public var shards: [String]
    public var bufferSize: Int
    public var seed: UInt64

    public init(shards: [String], bufferSize: Int, seed: UInt64) {
        self.shards = shards
        self.bufferSize = max(1, bufferSize)
        self.seed = seed
    }

    /// Calls `body` for every sample of `epoch`; stops early if it returns false.
    public func forEach(epoch: Int, _ body: (ShardSample) throws -> Bool) throws {
        var random = SplitMix64(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
        var order = shards
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        var buffer: [ShardSample] = []
        buffer.reserveCapacity(bufferSize)
        for shard in order {
            let members: [Tar.Member]
            do { members = try Tar.read(try Files.read(shard)) } catch { throw FileError(path: shard, reason: "\(error)") }
            var index = 0
            while index < members.count {
                let key = Self.key(of: members[index].name)
                var sampleMembers: [Tar.Member] = []
                while index < members.count && Self.key(of: members[index].name) == key { sampleMembers.append(members[index]); index += 1 }
                guard let jsonMember = sampleMembers.first(where: { $0.name.hasSuffix(".json") }),
                      let imageMember = sampleMembers.first(where: { $0.name.hasSuffix(".png") || $0.name.hasSuffix(".jpg") }) else {
                    throw FileError(path: shard, reason: "sample \(key) lacks its json or image member")
                }
                let json: JSON
                do { json = try JSON.parse(Array(jsonMember.data)) } catch { throw FileError(path: shard, reason: "sample \(key): \(error)") }
                let sample = ShardSample(key: key, json: json, image: Array(imageMember.data),
                                         imageFormat: String(imageMember.name.split(separator: ".").last ?? ""))
                if buffer.count < bufferSize {
                    buffer.append(sample)
                    continue
                }
                // Emit a random buffered sample and keep the new one in its place.
                let pick = Int(random.next() % UInt64(bufferSize))
                let out = buffer[pick]
                buffer[pick] = sample
                if try !body(out) { return }
            }
        }
        while !buffer.isEmpty {
            let pick = Int(random.next() % UInt64(buffer.count))
            buffer.swapAt(pick, buffer.count - 1)
            if try !body(buffer.removeLast()) { return }
        }
    }

    static func key(of name: String) -> String {
        let base = name.split(separator: "/").last.map(String.init) ?? name
        return String(base.prefix { $0 != "." })
    }
}
