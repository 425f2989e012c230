import Foundation
import SynmixCore
import SynmixFormats

/// `pack-mix verify`: re-hash every shard against index.json, parse every
/// sample, check the schema, that every mask and image decodes at the declared
/// size, that member names are safe and keys unique.
public enum Verifier {
    public struct Problem: Sendable, CustomStringConvertible, Equatable {
        public var shard: String
        public var key: String?
        public var reason: String
        public var description: String { key.map { "\(shard) \($0): \(reason)" } ?? "\(shard): \(reason)" }
    }

    public static func verify(_ folder: String) throws -> (samples: Int, problems: [Problem]) {
        let index: ShardIndex
        do { index = try ShardIndex.read(folder: folder) } catch { throw PackError("\(error)") }
        var problems: [Problem] = []
        var samples = 0
        for entry in index.shards {
            let name = entry.name
            let bytes: [UInt8]
            do { bytes = try Files.read("\(folder)/\(name)") } catch {
                problems.append(Problem(shard: name, key: nil, reason: "missing: \(error)"))
                continue
            }
            if bytes.count != entry.bytes {
                problems.append(Problem(shard: name, key: nil, reason: "\(bytes.count) bytes, the index says \(entry.bytes)"))
            }
            if SHA256Hasher.hex(bytes) != entry.sha256 {
                problems.append(Problem(shard: name, key: nil, reason: "sha256 differs from the index"))
            }
            // A damaged shard still has its samples before the damage: they are counted and checked.
            let reader = Tar.Reader(bytes: bytes)
            var members: [Tar.Member] = [], damage: Tar.ReadError?
            do { while let member = try reader.next() { members.append(member) } } catch { damage = error }
            for other in reader.otherMembers {
                problems.append(Problem(shard: name, key: nil, reason: "member '\(other.name)' at byte \(other.offset) is not a regular file "
                                        + "(type '\(other.type)'; a link, folder or device is unsafe to extract)"))
            }
            if let damage { problems.append(Problem(shard: name, key: nil, reason: "\(damage); the \(members.count) members before it are checked")) }
            // Consecutive members sharing a key form a sample (as webdataset groups them).
            var groups: [(key: String, members: [Tar.Member])] = []
            var seenKeys: Set<String> = []
            for member in members {
                // pack-mix writes flat names; anything else could escape an extraction folder.
                guard !member.name.contains("/"), !member.name.hasPrefix(".."), !member.name.isEmpty else {
                    problems.append(Problem(shard: name, key: nil, reason: "member name '\(member.name)' is not a plain file name (unsafe to extract)"))
                    continue
                }
                guard !member.sampleExtension.isEmpty else {
                    problems.append(Problem(shard: name, key: nil, reason: "member \(member.name) has no extension"))
                    continue
                }
                let key = String(member.sampleKey)
                if groups.last?.key == key { groups[groups.count - 1].members.append(member); continue }
                if !seenKeys.insert(key).inserted {
                    problems.append(Problem(shard: name, key: key, reason: "the key appears twice in the shard"))
                }
                groups.append((key, [member]))
            }
            let instanceClasses = index.taxonomy.map { Set($0.instanceClasses) }
            for group in groups {
                problems += check(group.key, group.members, shard: name, instanceClasses: instanceClasses)
            }
            if groups.count != entry.samples {
                problems.append(Problem(shard: name, key: nil, reason: "\(groups.count) samples, the index says \(entry.samples)"))
            }
            samples += groups.count
        }
        return (samples, problems)
    }

    static func check(_ key: String, _ members: [Tar.Member], shard: String, instanceClasses: Set<String>?) -> [Problem] {
        func problem(_ reason: String) -> Problem { Problem(shard: shard, key: key, reason: reason) }
        let names = members.map { String($0.sampleExtension) }
        guard let jsonIndex = names.firstIndex(of: "json") else { return [problem("no \(key).json member")] }
        let images = names.filter { $0 == "png" || $0 == "jpg" }
        guard images.count == 1, names.count == 2 else { return [problem("expected \(key).json and one image, found \(names.joined(separator: ", "))")] }
        // The record parses as the trainer parses it: every field, mask size and range.
        let record: SampleRecord
        do { record = try SampleRecord(bytes: Array(members[jsonIndex].data), file: "\(key).json") } catch { return [problem("\(error)")] }
        guard record.key == key else { return [problem("json key is '\(record.key)'")] }
        guard record.imageFormat.rawValue == images[0] else { return [problem("image_format does not match the \(images[0]) member")] }
        let (width, height) = (record.width, record.height)
        var problems: [Problem] = []
        if let instanceClasses {
            for instance in record.instances where !instanceClasses.contains(instance.className) {
                problems.append(problem("instance \(instance.id) has class '\(instance.className)', not an instance class of the index's taxonomy"))
            }
        }
        // The image must decode whole, at the declared size.
        let image = Array(members[1 - jsonIndex].data)   // the other of the two members
        do {
            let decoded: (width: Int, height: Int)
            if images[0] == "png" {
                let pixels = try PNGCodec.decode(image, path: "\(key).png")
                decoded = (pixels.width, pixels.height)
            } else {
                let raster = try JPEGCodec.decode(image, path: "\(key).jpg")
                decoded = (raster.width, raster.height)
            }
            if decoded != (width, height) {
                problems.append(problem("\(images[0]) member is \(decoded.width)x\(decoded.height), the sample is \(width)x\(height)"))
            }
        } catch {
            problems.append(problem("\(images[0]) member does not decode: \(error)"))
        }
        return problems
    }
}
