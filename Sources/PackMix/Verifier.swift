import Foundation
import SynmixCore

/// `pack-mix verify`: re-hash every shard against index.json, parse every
/// sample, check the schema and that every mask decodes at the declared size.
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
            let members: [Tar.Member]
            do { members = try Tar.read(bytes) } catch {
                problems.append(Problem(shard: name, key: nil, reason: "\(error)"))
                continue
            }
            // Consecutive members sharing a key form a sample (as webdataset groups them).
            var groups: [(key: String, members: [Tar.Member])] = []
            for member in members {
                let base = member.name.split(separator: "/").last.map(String.init) ?? member.name
                guard let dot = base.firstIndex(of: ".") else {
                    problems.append(Problem(shard: name, key: nil, reason: "member \(member.name) has no extension"))
                    continue
                }
                let key = String(base[..<dot])
                if groups.last?.key == key { groups[groups.count - 1].members.append(member) } else { groups.append((key, [member])) }
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
        let names = members.map { String($0.name.split(separator: "/").last!.dropFirst(key.count + 1)) }
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
        // The image header must agree with the declared size.
        let image = Array(members[1 - jsonIndex].data)   // the other of the two members
        if images[0] == "png" {
            if let header = try? PNGCodec.header(of: Array(image.prefix(33)), path: key), header.width == width, header.height == height {} else {
                problems.append(problem("png member is not a \(width)x\(height) PNG"))
            }
        } else if !(image.count > 2 && image[0] == 0xFF && image[1] == 0xD8) {
            problems.append(problem("jpg member is not a JPEG"))
        }
        return problems
    }
}
