import Foundation
import TestSupport
import XCTest

/// The package builds on case-insensitive file systems (macOS) too, and on a clean Debian from what the Makefile installs.
final class RepositoryLayoutTests: XCTestCase {
    /// Every Debian package Package.swift names as a system library's provider is one `make deps` installs.
    func testThePackagesProvidersAreTheMakefilesDebianPackages() throws {
        let manifest = try String(contentsOfFile: "\(repositoryRoot)/Package.swift", encoding: .utf8)
        let installed = Set(try makefileDebianPackages())
        let providers = manifest.components(separatedBy: ".apt([").dropFirst().flatMap { list in
            list.prefix { $0 != "]" }.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) }
        }
        XCTAssertEqual(providers.count, 7)
        XCTAssertEqual(Set(providers).subtracting(installed), [])
    }

    func testNoTwoPathsUnderSourcesOrTestsDifferOnlyInCase() throws {
        var paths: [String] = []
        for top in ["Sources", "Tests"] {
            let root = "\(repositoryRoot)/\(top)"
            let walker = try XCTUnwrap(FileManager.default.enumerator(atPath: root))
            while let path = walker.nextObject() as? String { paths.append("\(top)/\(path)") }
        }
        XCTAssertGreaterThan(paths.count, 100)
        let clashes = Dictionary(grouping: paths, by: { $0.lowercased() }).values.filter { $0.count > 1 }
        XCTAssertEqual(clashes.map { $0.sorted() }, [])
    }

    /// The shapes in which the generator could write a Cityscapes label id as a number; every id it draws comes
    /// from `Labels`, which takes it by name from CityscapesLabel's table.
    static let rawLabelIdPatterns = [
        #"labelId: \d"#, #"\blabel: \d"#, #"\bcase \d+[,:]"#, #"\bcase \(\d+,"#, #"\b(metaClass|kind) == \d"#,
        #"\[\d+(, \d+)+\]\.(contains|map)"#, #"place\(\d"#, #"\((2[4-9]|3[0-3]), [0-9._]+\)"#, #"(^|[\s,\[])\d{1,2}: \["#,
    ]

    func testTheGeneratorWritesNoRawCityscapesLabelId() throws {
        // Each pattern finds what it is meant to find.
        let samples = ["Region(labelId: 23, polygon: p)", "figure(pose, label: 24)", "case 24, 25:", "case (26, \"sedan\"):",
                       "metaClass == 32 ? a : b", "[26, 27, 28].contains(metaClass)", "place(26, 0.4, 30)", "(26, 0.36)", "[24: [200, 40, 70]]"]
        for (pattern, sample) in zip(Self.rawLabelIdPatterns, samples) {
            XCTAssertNotNil(sample.range(of: pattern, options: .regularExpression), "\(pattern) misses \(sample)")
        }
        let folder = "\(repositoryRoot)/Sources/SynmixGenerate"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".swift") }
        XCTAssertGreaterThan(files.count, 8)
        for file in files {
            let lines = try String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                for pattern in Self.rawLabelIdPatterns where line.range(of: pattern, options: .regularExpression) != nil {
                    XCTFail("Sources/SynmixGenerate/\(file):\(number + 1): a raw label id (\(pattern)): \(line)")
                }
            }
        }
    }

    /// Targets that spell JSON keys of formats that are not synmix's own, or are codecs every format shares.
    static let formatOutsiders: [String: String] = [
        "SynmixFormats": "the owner of synmix's files",
        "SynmixCore": "the codecs every format shares (RLE's JSON, errors.jsonl's entry, the taxonomy and mapping YAML)",
        "Harmonize": "reads Cityscapes' and Synscapes' own files", "SynmixGenerate": "writes Cityscapes' and Synscapes' own files",
        "CocoExport": "writes COCO's instances.json", "Network": "safetensors' header and the network's own description",
        "synmix-bench": "its own measurement files",
    ]

    /// No key of a file synmix passes between stages (every key docs/formats.md names) is written or read by
    /// name outside SynmixFormats: `("key", .…)` builds a JSON member, `["key"]` reads one.
    func testFormatKeysAreSpelledOnlyInTheFormatsTarget() throws {
        let document = try String(contentsOfFile: "\(repositoryRoot)/docs/formats.md", encoding: .utf8)
        var keys = Set<String>()
        var rest = document[...]
        while let open = rest.firstIndex(of: "`") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "`") else { break }
            let word = String(after[..<close])
            if word.count > 2, word.allSatisfy({ $0.isLowercase || $0 == "_" || $0.isNumber }) { keys.insert(word) }
            rest = after[after.index(after: close)...]
        }
        XCTAssertTrue(keys.isSuperset(of: ["split", "domain", "first_key", "counts_per_domain", "evaluations"]))
        let sources = "\(repositoryRoot)/Sources"
        var found: [String] = []
        for target in try FileManager.default.contentsOfDirectory(atPath: sources).sorted() where Self.formatOutsiders[target] == nil {
            for file in (FileManager.default.enumerator(atPath: "\(sources)/\(target)")?.allObjects as? [String] ?? []) where file.hasSuffix(".swift") {
                let text = try String(contentsOfFile: "\(sources)/\(target)/\(file)", encoding: .utf8)
                found += Self.spelledKeys(in: text, keys).map { "Sources/\(target)/\(file): \($0)" }
            }
        }
        XCTAssertEqual(found, [])
        // The check finds a key where one is spelled, read or written.
        XCTAssertEqual(Self.spelledKeys(in: "let n = value[\"counts_per_domain\"]; let j = (\"split\", .string(s)); let a = [\"domain\"]", keys),
                       ["counts_per_domain", "split"])
    }

    /// The keys of `keys` that `text` reads (`value["key"]`: a subscript, not an array literal) or writes
    /// (`("key", .…)`), sorted.
    static func spelledKeys(in text: String, _ keys: Set<String>) -> [String] {
        keys.filter { key in
            text.contains("(\"\(key)\", .") || text.range(of: #"[A-Za-z0-9_\]\)\?]\[""# + key + #""\]"#, options: .regularExpression) != nil
        }.sorted()
    }
}
