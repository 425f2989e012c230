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

/// One sample as read from a shard: its key, its JSON (parsed later, on a
/// worker thread) and its encoded image.
public struct ShardSample: Sendable {
    public var key: String
    public var shard: String
    public var json: [UInt8]
    public var image: [UInt8]
    public var imageFormat: String

    public init(key: String, shard: String, json: [UInt8], image: [UInt8], imageFormat: String) {
        self.key = key
        self.shard = shard
        self.json = json
        self.image = image
        self.imageFormat = imageFormat
    }
}

/// Streams samples from shards: each epoch visits the shards in a new seeded
/// order, reads them sequentially, and shuffles through a bounded buffer
/// (memory is the buffer plus one shard, not the dataset), as webdataset's
/// shuffle does. A damaged shard or sample is reported through `report` and
/// skipped; the samples before the damage are used.
public struct ShardStream: Sendable {
    public var shards: [String]
    public var bufferSize: Int
    public var seed: UInt64
    public var shuffle: Bool

    public init(shards: [String], bufferSize: Int, seed: UInt64, shuffle: Bool = true) {
        self.shards = shards
        self.bufferSize = max(1, bufferSize)
        self.seed = seed
        self.shuffle = shuffle
    }

    /// Calls `body` for every sample of `epoch`; stops early if it returns false.
    public func forEach(epoch: Int, report: (FileError) -> Void = { _ in }, _ body: (ShardSample) throws -> Bool) throws {
        var iterator = makeIterator(epoch: epoch)
        while let sample = iterator.next(report: report) {
            if try !body(sample) { return }
        }
    }

    public func makeIterator(epoch: Int) -> Iterator { Iterator(stream: self, epoch: epoch) }

    /// The samples of one epoch, pulled one at a time.
    public struct Iterator {
        let stream: ShardStream
        var random: SplitMix64
        var order: [String]
        var nextShard = 0
        var pending: [ShardSample] = []   // the current shard's samples not yet offered to the buffer, reversed
        var buffer: [ShardSample] = []

        init(stream: ShardStream, epoch: Int) {
            self.stream = stream
            random = SplitMix64(seed: stream.seed &+ UInt64(epoch) &* 0x9E37_79B9)
            order = stream.shards
            if stream.shuffle {
                for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
            }
            buffer.reserveCapacity(stream.bufferSize)
        }

        public mutating func next(report: (FileError) -> Void) -> ShardSample? {
            while true {
                if pending.isEmpty && nextShard < order.count {
                    pending = Self.samples(of: order[nextShard], report: report).reversed()
                    nextShard += 1
                    continue
                }
                guard let sample = pending.popLast() else { break }
                if !stream.shuffle { return sample }
                if buffer.count < stream.bufferSize {
                    buffer.append(sample)
                    continue
                }
                // Emit a random buffered sample and keep the new one in its place.
                let pick = Int(random.next() % UInt64(stream.bufferSize))
                let out = buffer[pick]
                buffer[pick] = sample
                return out
            }
            guard !buffer.isEmpty else { return nil }
            let pick = Int(random.next() % UInt64(buffer.count))
            buffer.swapAt(pick, buffer.count - 1)
            return buffer.removeLast()
        }

        /// The samples of one shard file in archive order.
        static func samples(of shard: String, report: (FileError) -> Void) -> [ShardSample] {
            let bytes: [UInt8]
            do { bytes = try Files.read(shard) } catch {
                report(error as? FileError ?? FileError(path: shard, reason: "\(error)"))
                return []
            }
            let (members, damage) = Tar.readMembers(bytes)
            if let damage { report(FileError(path: shard, reason: "\(damage); the samples before it are used")) }
            var samples: [ShardSample] = []
            var index = 0
            while index < members.count {
                let key = ShardStream.key(of: members[index].name)
                var sampleMembers: [Tar.Member] = []
                while index < members.count && ShardStream.key(of: members[index].name) == key { sampleMembers.append(members[index]); index += 1 }
                guard let json = sampleMembers.first(where: { $0.name.hasSuffix(".json") }),
                      let image = sampleMembers.first(where: { $0.name.hasSuffix(".png") || $0.name.hasSuffix(".jpg") }) else {
                    report(FileError(path: shard, reason: "sample \(key) at byte \(sampleMembers[0].offset) lacks its json or image member; skipped"))
                    continue
                }
                samples.append(ShardSample(key: key, shard: shard, json: Array(json.data), image: Array(image.data),
                                           imageFormat: String(image.name.split(separator: ".").last ?? "")))
            }
            return samples
        }
    }

    static func key(of name: String) -> String {
        let base = name.split(separator: "/").last.map(String.init) ?? name
        return String(base.prefix { $0 != "." })
    }
}
