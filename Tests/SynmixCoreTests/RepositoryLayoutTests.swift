import Foundation
import TestSupport
import XCTest

/// The package builds on case-insensitive file systems (macOS) too, and on a clean Debian from what the Makefile installs.
final class RepositoryLayoutTests: XCTestCase {
    /// Every Debian package Package.swift names as a system library's provider is one `make deps` installs.
    func testThePackagesProvidersAreTheMakefilesDebianPackages() throws {
        let manifest = try String(contentsOfFile: "\(repositoryRoot)/Package.swift", encoding: .utf8)
        let makefile = try String(contentsOfFile: "\(repositoryRoot)/Makefile", encoding: .utf8)
        let line = try XCTUnwrap(makefile.split(separator: "\n").first { $0.hasPrefix("APT_PACKAGES :=") })
        let installed = Set(line.dropFirst("APT_PACKAGES :=".count).split(separator: " ").map(String.init))
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
}
