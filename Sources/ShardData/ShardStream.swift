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

    /// The samples of one epoch, pulled one at a time. A shard is read member by
    /// member, so memory holds the shuffle buffer and one sample, not the shard.
    public struct Iterator {
        let stream: ShardStream
        var random: SplitMix64
        var order: [String]
        var nextShard = 0
        var buffer: [ShardSample] = []
        var shard: ShardReader?

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
            while let sample = nextInOrder(report: report) {
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

        /// The next sample in shard order, across the epoch's shards.
        mutating func nextInOrder(report: (FileError) -> Void) -> ShardSample? {
            while true {
                if shard == nil {
                    guard nextShard < order.count else { return nil }
                    do { shard = try ShardReader(path: order[nextShard]) } catch {
                        report(error as? FileError ?? FileError(path: order[nextShard], reason: "\(error)"))
                    }
                    nextShard += 1
                    continue
                }
                if let sample = shard!.next(report: report) { return sample }
                shard = nil
            }
        }
    }

}

/// One shard's samples in archive order: the members of one key grouped, a sample
/// without its json or image reported and skipped, damage reported with its offset
/// (the samples before it are used).
public final class ShardReader {
    let path: String
    private let reader: Tar.Reader
    private var lookahead: Tar.Member?
    private var finished = false
    /// Keys met so far in this shard: a key that comes again later is a different sample under a
    /// duplicate name, reported and skipped rather than merged into the first.
    private var seenKeys: Set<String> = []

    public init(path: String) throws {
        self.path = path
        reader = try Tar.Reader(path: path)
    }

    /// A member's part in its sample: the json, the image (png or jpg: a sample has one), or
    /// another extension (passed over, as WebDataset keeps what it is not asked for).
    /// By the name's last suffix, as a sample's members have always been found (a name such as
    /// "../...png" still gives a sample, whose empty key the readers then name).
    static func role(_ member: Tar.Member) -> Substring {
        if member.name.hasSuffix(".json") { return "json" }
        if member.name.hasSuffix(".png") || member.name.hasSuffix(".jpg") { return "image" }
        return member.sampleExtension
    }

    public func next(report: (FileError) -> Void) -> ShardSample? {
        while let first = lookahead ?? read(report: report) {
            lookahead = nil
            let key = String(first.sampleKey)
            // The run of consecutive members under this key. The first member of each part forms the
            // sample; a member whose part is already taken repeats the sample (A.json A.json A.png,
            // A.json A.png A.json A.png) and is reported and left out, so that the first sample is
            // kept rather than lost with its repetition. Left-out members are not held in memory.
            var kept: [Tar.Member] = [first]
            var repetitions: [Int] = []              // offset where each repetition begins
            var repetitionRoles: Set<Substring> = []  // the parts of the repetition being read
            while let member = read(report: report) {
                guard member.sampleKey == first.sampleKey else { lookahead = member; break }
                let role = Self.role(member)
                if !kept.contains(where: { Self.role($0) == role }) {
                    kept.append(member)
                } else {
                    if repetitions.isEmpty || !repetitionRoles.insert(role).inserted {
                        repetitions.append(member.offset)
                        repetitionRoles = [role]
                    }
                }
            }
            guard seenKeys.insert(key).inserted else {
                report(FileError(path: path, reason: "sample \(key) at byte \(first.offset) repeats an earlier sample's key; skipped"))
                continue
            }
            for offset in repetitions {
                report(FileError(path: path, reason: "sample \(key) at byte \(offset) repeats an earlier sample's key; skipped"))
            }
            guard let json = kept.first(where: { Self.role($0) == "json" }),
                  let image = kept.first(where: { Self.role($0) == "image" }) else {
                report(FileError(path: path, reason: "sample \(key) at byte \(first.offset) lacks its json or image member; skipped"))
                continue
            }
            return ShardSample(key: key, shard: path, json: Array(json.data), image: Array(image.data),
                               imageFormat: String(image.name.split(separator: ".").last ?? ""))
        }
        return nil
    }

    private func read(report: (FileError) -> Void) -> Tar.Member? {
        guard !finished else { return nil }
        do {
            if let member = try reader.next() { return member }
        } catch {
            report(FileError(path: path, reason: "\(error); the samples before it are used"))
        }
        finished = true
        return nil
    }
}
