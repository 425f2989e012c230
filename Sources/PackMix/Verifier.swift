import Foundation
import SynmixCore

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
        let indexPath = "\(folder)/index.json"
        let index: JSON
        do { index = try JSON.parse(try Files.read(indexPath)) } catch {
            throw PackError("\(indexPath): cannot read the index: \(error)")
        }
        guard index["format"]?.stringValue == Packer.formatVersion, let shards = index["shards"]?.arrayValue else {
            throw PackError("\(indexPath): not a synmix shard index (format \(Packer.formatVersion))")
        }
        var problems: [Problem] = []
        var samples = 0
        for entry in shards {
            let name = entry["name"]?.stringValue ?? "?"
            let bytes: [UInt8]
            do { bytes = try Files.read("\(folder)/\(name)") } catch {
                problems.append(Problem(shard: name, key: nil, reason: "missing: \(error)"))
                continue
            }
            if bytes.count != entry["bytes"]?.intValue {
                problems.append(Problem(shard: name, key: nil, reason: "\(bytes.count) bytes, the index says \(entry["bytes"]?.intValue ?? -1)"))
            }
            if SHA256Hasher.hex(bytes) != entry["sha256"]?.stringValue {
                problems.append(Problem(shard: name, key: nil, reason: "sha256 differs from the index"))
            }
            // A damaged shard still has its samples before the damage: they are counted and checked.
            let (members, damage) = Tar.readMembers(bytes)
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
            for group in groups {
                problems += check(group.key, group.members, shard: name)
            }
            if groups.count != entry["samples"]?.intValue {
                problems.append(Problem(shard: name, key: nil, reason: "\(groups.count) samples, the index says \(entry["samples"]?.intValue ?? -1)"))
            }
            samples += groups.count
        }
        return (samples, problems)
    }

    static func check(_ key: String, _ members: [Tar.Member], shard: String) -> [Problem] {
        func problem(_ reason: String) -> Problem { Problem(shard: shard, key: key, reason: reason) }
        let names = members.map { String($0.sampleExtension) }
        guard let jsonIndex = names.firstIndex(of: "json") else { return [problem("no \(key).json member")] }
        let images = names.filter { $0 == "png" || $0 == "jpg" }
        guard images.count == 1, names.count == 2 else { return [problem("expected \(key).json and one image, found \(names.joined(separator: ", "))")] }
        let value: JSON
        do { value = try JSON.parse(Array(members[jsonIndex].data)) } catch { return [problem("json: \(error)")] }
        guard value["key"]?.stringValue == key else { return [problem("json key is '\(value["key"]?.stringValue ?? "")'")] }
        guard let width = value["width"]?.intValue, let height = value["height"]?.intValue, width > 0, height > 0 else {
            return [problem("json lacks width/height")]
        }
        guard value["image_format"]?.stringValue == images[0] else { return [problem("image_format does not match the \(images[0]) member")] }
        guard let original = value["original_size"]?.arrayValue, original.count == 2, value["id"]?.stringValue != nil,
              value["domain"]?.stringValue != nil else { return [problem("json lacks id, domain or original_size")] }
        var problems: [Problem] = []
        func checkMask(_ mask: JSON?, _ what: String) {
            guard let mask, let size = mask["size"]?.arrayValue?.compactMap(\.intValue), let counts = mask["counts"]?.stringValue else {
                problems.append(problem("\(what): not an RLE object"))
                return
            }
            guard size == [height, width] else { problems.append(problem("\(what): size \(size), the sample is [\(height), \(width)]")); return }
            do { _ = try RLE(string: counts, height: height, width: width) } catch { problems.append(problem("\(what): \(error)")) }
        }
        for (index, instance) in (value["instances"]?.arrayValue ?? []).enumerated() {
            checkMask(instance["mask"], "instances[\(index)].mask")
            if instance["class"]?.stringValue == nil { problems.append(problem("instances[\(index)] has no class")) }
        }
        if value["instances"]?.arrayValue == nil { problems.append(problem("no instances array")) }
        if let ignore = value["ignore"], !ignore.isNull { checkMask(ignore, "ignore") }
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
