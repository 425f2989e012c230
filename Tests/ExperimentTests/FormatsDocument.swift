import Foundation
import SynmixCore
import TestSupport

/// docs/formats.md against the writers: every file a run wrote matches a file the page names, and every key of
/// every JSON document it wrote is named there (names that are data, such as class names, aside).
enum FormatsDocument {
    /// The documented names of the files under `folder` (outside `skip`), how many distinct keys they hold, and
    /// what the page misses.
    static func gaps(in folder: String, dataNames: Set<String>, skip: (String) -> Bool) throws -> (names: Set<String>, keys: Int, problems: [String]) {
        let document = try String(contentsOfFile: "\(repositoryRoot)/docs/formats.md", encoding: .utf8)
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder).filter { path in
            !skip(path) && !Files.isDirectory("\(folder)/\(path)")
        }
        var names = Set<String>(), keys = Set<String>(), problems: [String] = []
        for path in files.sorted() {
            let name = documentedName(path)
            if names.insert(name).inserted, !document.contains(name) {
                problems.append("docs/formats.md does not name \(name) (written: \(path))")
            }
            guard path.hasSuffix(".json") || path.hasSuffix(".jsonl") else { continue }
            let text = try String(contentsOfFile: "\(folder)/\(path)", encoding: .utf8)
            for line in path.hasSuffix(".jsonl") ? text.split(separator: "\n").map(String.init) : [text] {
                collectKeys(try JSON.parse(Array(line.utf8)), into: &keys)
            }
        }
        for key in keys.subtracting(dataNames).sorted() where !document.contains("`\(key)`") && !document.contains("\"\(key)\"") {
            problems.append("docs/formats.md does not name the key \(key)")
        }
        return (names, keys.count, problems)
    }

    /// A written file as docs/formats.md names it: the files of a picture or mask folder as the folder, runs of six
    /// digits as NNNNNN, a prediction file as NAME_pred.txt.
    static func documentedName(_ path: String) -> String {
        let parts = path.split(separator: "/").map(String.init)
        if let folder = parts.dropLast().first(where: { ["previews", "overlays", "masks", "images", "logs"].contains($0) }) { return folder + "/" }
        let name = parts.last!.replacingOccurrences(of: "[0-9]{6}", with: "NNNNNN", options: .regularExpression)
        if name.hasSuffix("_pred.txt") { return "NAME_pred.txt" }
        return parts.dropLast().last == "checkpoints" ? "checkpoints/\(name)" : name
    }

    static func collectKeys(_ value: JSON, into keys: inout Set<String>) {
        if case .object(let pairs) = value {
            for (key, member) in pairs { keys.insert(key); collectKeys(member, into: &keys) }
        } else if let items = value.arrayValue {
            for item in items { collectKeys(item, into: &keys) }
        }
    }
}
