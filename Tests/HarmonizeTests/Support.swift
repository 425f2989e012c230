import Foundation
import XCTest
@testable import Harmonize
import SynmixCore
import SynmixGenerate

/// The repository's root, for mappings/ and fixtures/.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
let mappingsFolder = "\(repositoryRoot)/mappings"
let fixturesFolder = "\(repositoryRoot)/fixtures"

func temporaryFolder(_ name: String = #function) throws -> String {
    let path = NSTemporaryDirectory() + "synmix-tests/\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func options(_ dataset: Dataset, root: String, out: String) -> HarmonizeOptions {
    HarmonizeOptions(dataset: dataset, root: root, out: out, mappingPath: "\(mappingsFolder)/\(dataset.rawValue).yaml",
                     taxonomyPath: "\(mappingsFolder)/taxonomy.yaml")
}

func readManifest(_ folder: String) throws -> [ManifestRecord] {
    let text = try String(contentsOfFile: "\(folder)/manifest.jsonl", encoding: .utf8)
    return try text.split(separator: "\n").enumerated().map { index, line in
        try ManifestRecord(jsonLine: line, file: "\(folder)/manifest.jsonl", line: index + 1)
    }
}

func readErrors(_ folder: String) throws -> [[String: String]] {
    let text = try String(contentsOfFile: "\(folder)/errors.jsonl", encoding: .utf8)
    return try text.split(separator: "\n").map { line in
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
    }
}

func box(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, label: Int) -> Region {
    Region(labelId: label, polygon: [Point(x0, y0), Point(x1, y0), Point(x1, y1), Point(x0, y1)])
}
