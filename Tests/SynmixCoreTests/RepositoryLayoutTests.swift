import Foundation
import TestSupport
import XCTest

/// The package builds on case-insensitive file systems (macOS) too.
final class RepositoryLayoutTests: XCTestCase {
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
