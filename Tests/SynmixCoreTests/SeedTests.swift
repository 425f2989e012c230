import XCTest
import SynmixCore

final class SeedTests: XCTestCase {
    /// The same table as python/tests/test_seeds.py: Swift and synmix_torch derive the same sub-stream seeds.
    static let pinned: [(seed: UInt64, name: String, indices: [UInt64], derived: UInt64)] = [
        (1, "mix-order", [], 14_730_267_983_763_140_589),
        (0, "scene", [7], 18_362_072_567_092_978_191),
        (11, "augmentation", [1, 2, 3], 809_922_903_124_897_151),
        (UInt64.max, "epoch-order:real", [5], 776_632_343_897_858_313),
        (42, "", [], 16_989_316_241_837_898_229),
    ]

    func testDerivedSeedsMatchTheTableSharedWithPython() {
        for row in Self.pinned {
            XCTAssertEqual(Seed.derive(row.seed, row.name, indices: row.indices), row.derived, "\(row.seed) \(row.name) \(row.indices)")
        }
    }

    func testNamesIndicesAndTheirOrderGiveDifferentStreams() {
        XCTAssertNotEqual(Seed.derive(1, "scene"), Seed.derive(1, "rendering"))
        XCTAssertNotEqual(Seed.derive(1, "scene", 0), Seed.derive(1, "scene"))
        XCTAssertNotEqual(Seed.derive(1, "scene", 1, 2), Seed.derive(1, "scene", 2, 1))
        XCTAssertNotEqual(Seed.derive(1, "scene", 3), Seed.derive(2, "scene", 3))
        // Frames of one stream do not collide over a dataset's worth of indices.
        XCTAssertEqual(Set((0..<10_000).map { Seed.derive(1, "scene", UInt64($0)) }).count, 10_000)
    }

    func testFnv1aIsTheStandard64BitHash() {
        XCTAssertEqual(Seed.fnv1a(""), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(Seed.fnv1a("a"), 0xaf63_dc4c_8601_ec8c)   // the FNV reference test vector
    }
}
