import Foundation
import XCTest
@testable import Harmonize
import SynmixCore
import SynmixGenerate
import TestSupport
import SynmixFormats

final class HarmonizerTests: XCTestCase {
    func manifestBytes(_ folder: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: "\(folder)/manifest.jsonl"))
    }

    func testManifestIsByteIdenticalWhateverTheJobCount() throws {
        for dataset in Dataset.allCases {
            var outputs: [Data] = []
            for jobs in [1, 2, 3] {
                let out = try temporaryFolder()
                var opts = options(dataset, root: "\(fixturesFolder)/\(dataset.rawValue)", out: out)
                opts.jobs = jobs
                _ = try Harmonizer.run(opts)
                outputs.append(try manifestBytes(out))
                outputs.append(try Data(contentsOf: URL(fileURLWithPath: "\(out)/summary.json")))
            }
            XCTAssertEqual(outputs[0], outputs[2], dataset.rawValue)
            XCTAssertEqual(outputs[0], outputs[4], dataset.rawValue)
            XCTAssertEqual(outputs[1], outputs[3], dataset.rawValue)
            XCTAssertGreaterThan(outputs[0].count, 10_000)
        }
    }

    func testTheSummaryReadsBackThroughItsOwnerTypeToTheSameBytes() throws {
        let out = try temporaryFolder()
        _ = try Harmonizer.run(options(.synscapes, root: "\(fixturesFolder)/synscapes", out: out))
        let text = String(decoding: try Files.read("\(out)/\(DatasetSummary.fileName)"), as: UTF8.self)
        let summary = try DatasetSummary.read(folder: out)
        XCTAssertEqual(summary.json.pretty, text)
        XCTAssertEqual(summary.dataset, "synscapes")
        XCTAssertEqual(summary.written, summary.splits.reduce(0) { $0 + $1.images })
        XCTAssertEqual(summary.images(inSplit: .train) + summary.images(inSplit: .val), summary.written)
        XCTAssertEqual(summary.classes.map(\.name), ["person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"])
    }

    func testPartitionsConcatenateToTheWholeManifest() throws {
        let root = "\(fixturesFolder)/cityscapes"
        let whole = try temporaryFolder()
        _ = try Harmonizer.run(options(.cityscapes, root: root, out: whole))
        var concatenated = Data()
        var sizes: [Int] = []
        for index in 1...4 {
            let out = try temporaryFolder()
            var opts = options(.cityscapes, root: root, out: out)
            opts.partition = (index, 4)
            let result = try Harmonizer.run(opts)
            sizes.append(result.written)
            concatenated.append(try manifestBytes(out))
        }
        XCTAssertEqual(sizes, [1, 2, 1, 2])   // 6 images: [0,1) [1,3) [3,4) [4,6)
        XCTAssertEqual(concatenated, try manifestBytes(whole))
    }

    func testLimitTakesTheFirstImagesById() throws {
        let out = try temporaryFolder()
        var opts = options(.cityscapes, root: "\(fixturesFolder)/cityscapes", out: out)
        opts.limit = 2
        _ = try Harmonizer.run(opts)
        XCTAssertEqual(try readManifest(out).map(\.id), ["cityscapes/test/berlin/berlin_000000_000019",
                                                         "cityscapes/train/aachen/aachen_000000_000019"])
    }

    func testManifestRecordsRoundTripThroughTheParser() throws {
        let out = try temporaryFolder()
        _ = try Harmonizer.run(options(.synscapes, root: "\(fixturesFolder)/synscapes", out: out))
        let text = try String(contentsOfFile: "\(out)/manifest.jsonl", encoding: .utf8)
        let records = try readManifest(out)
        XCTAssertEqual(records.map(\.jsonLine).joined(separator: "\n") + "\n", text)
    }

    func testCommittedFixturesAreWhatTheGeneratorWrites() throws {
        let out = try temporaryFolder()
        try Fixtures.write(to: out)
        let committed = FileManager.default.enumerator(atPath: fixturesFolder)!.compactMap { $0 as? String }
            .filter { !Files.isDirectory("\(fixturesFolder)/\($0)") }.sorted()
        let generated = FileManager.default.enumerator(atPath: out)!.compactMap { $0 as? String }
            .filter { !Files.isDirectory("\(out)/\($0)") }.sorted()
        XCTAssertEqual(committed, generated)
        for file in committed {
            XCTAssertEqual(SHA256Hasher.hex(try Files.read("\(fixturesFolder)/\(file)")),
                           SHA256Hasher.hex(try Files.read("\(out)/\(file)")), "\(file) differs: run `make fixtures`")
        }
    }

    func testBadRootIsAClearError() throws {
        let out = try temporaryFolder()
        XCTAssertThrowsError(try Harmonizer.run(options(.cityscapes, root: "/nonexistent/cityscapes", out: out))) { error in
            XCTAssertEqual("\(error)", "/nonexistent/cityscapes: not a directory")
        }
        let notADataset = try temporaryFolder()
        XCTAssertThrowsError(try Harmonizer.run(options(.synscapes, root: notADataset, out: out))) { error in
            XCTAssertEqual("\(error)", "\(notADataset): no img/ or meta/ folder: not a Synscapes root")
        }
    }

    func testEmptyDatasetIsAClearErrorNotAnEmptyManifest() throws {
        let root = try temporaryFolder(), out = try temporaryFolder()
        try Files.createDirectory("\(root)/leftImg8bit/train/aachen")
        XCTAssertThrowsError(try Harmonizer.run(options(.cityscapes, root: root, out: out))) { error in
            XCTAssertEqual("\(error)", "\(root): no cityscapes images found for split 'all'")
        }
        XCTAssertFalse(Files.exists("\(out)/manifest.jsonl"))
    }

    func testMappingWithUnknownClassNamesFileAndLine() throws {
        let folder = try temporaryFolder()
        var text = try String(contentsOfFile: "\(mappingsFolder)/cityscapes.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "{id: 26, name: car,                  to: car}",
                                         with: "{id: 26, name: car,                  to: automobile}")
        try text.write(toFile: "\(folder)/cityscapes.yaml", atomically: true, encoding: .utf8)
        let taxonomy = try Taxonomy(contentsOf: "\(mappingsFolder)/taxonomy.yaml")
        XCTAssertThrowsError(try LabelMapping(contentsOf: "\(folder)/cityscapes.yaml", taxonomy: taxonomy)) { error in
            let error = error as! ConfigurationError
            XCTAssertEqual(error.file, "\(folder)/cityscapes.yaml")
            XCTAssertEqual(error.line, 40)
            XCTAssertTrue(error.reason.hasPrefix("'automobile' is not a class of the taxonomy"), error.reason)
        }
    }

    func testMappingThatIsNotYAMLOrLeavesIdsUnmappedFails() throws {
        let folder = try temporaryFolder()
        let taxonomy = try Taxonomy(contentsOf: "\(mappingsFolder)/taxonomy.yaml")
        try "source: cityscapes\nlabels:\n  - {id: 1, name: x, to: ignore\n".write(toFile: "\(folder)/broken.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LabelMapping(contentsOf: "\(folder)/broken.yaml", taxonomy: taxonomy)) { error in
            let error = error as! ConfigurationError
            XCTAssertEqual(error.file, "\(folder)/broken.yaml")
            XCTAssertNotNil(error.line)
            XCTAssertTrue(error.reason.hasPrefix("not valid YAML"), error.reason)
        }
        try "source: cityscapes\nlabels:\n  - {id: 7, name: road, to: background}\n".write(toFile: "\(folder)/partial.yaml", atomically: true, encoding: .utf8)
        var opts = options(.cityscapes, root: "\(fixturesFolder)/cityscapes", out: try temporaryFolder())
        opts.mappingPath = "\(folder)/partial.yaml"
        XCTAssertThrowsError(try Harmonizer.run(opts)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(folder)/partial.yaml: source label ids 0, 1, 2, 3, 4, 5, 6, 8,"), "\(error)")
        }
    }
}
