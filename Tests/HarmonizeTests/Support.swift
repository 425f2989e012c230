import Foundation
import XCTest
@testable import Harmonize
import SynmixCore
import SynmixGenerate
import TestSupport

func options(_ dataset: Dataset, root: String, out: String) -> HarmonizeOptions {
    HarmonizeOptions(dataset: dataset, root: root, out: out, mappingPath: "\(mappingsFolder)/\(dataset.rawValue).yaml",
                     taxonomyPath: taxonomyPath)
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
