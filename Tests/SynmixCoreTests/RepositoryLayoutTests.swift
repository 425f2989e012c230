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
}
