import Foundation
import SynmixCore

// What a sample of a shard is, the one rule every reader of shards follows (the trainer's stream,
// pack-mix coco, the demo): the consecutive members under one key, the first json and the first
// image of the run; a key met again, or a sample without its json or image, reported and skipped.

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

    /// Every sample of `shards` in order (a shard that cannot be opened is reported); stops when `body` says false.
    public static func forEachSample(in shards: [String], report: (FileError) -> Void, _ body: (ShardSample) throws -> Bool) throws {
        for shard in shards {
            let reader: ShardReader
            do { reader = try ShardReader(path: shard) } catch {
                report(error as? FileError ?? FileError(path: shard, reason: "\(error)"))
                continue
            }
            while let sample = reader.next(report: report) {
                if try !body(sample) { return }
            }
        }
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
