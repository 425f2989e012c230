import ArgumentParser
import Evaluation
import Foundation
import SynmixCore

struct TrainShards: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-shards",
        abstract: "Train and evaluate instance segmentation on synmix shards (evaluation is ready; training is not built yet).",
        subcommands: [Evaluate.self])
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cityscapes instance-level AP, identical to cityscapesScripts' evalInstanceLevelSemanticLabeling.",
        discussion: "Ground truth in Cityscapes' layout, predictions in the Cityscapes results format (one txt per image).")

    @Option(help: "Cityscapes root (or its gtFine folder).") var cityscapesGt: String
    @Option(help: "Folder of prediction txt files and masks.") var predictions: String
    @Option(help: "Ground-truth split.") var split = "val"
    @Option(help: "Write metrics.json here.") var out: String?
    @Flag(help: "Report and skip images whose files are bad instead of stopping.") var skipBad = false

    func run() throws {
        var options = CityscapesEvaluation.Options(groundTruth: cityscapesGt, predictions: predictions)
        options.split = split
        options.skipBad = skipBad
        let outcome = try CityscapesEvaluation.run(options)
        for problem in outcome.skipped { FileHandle.standardError.write(Data("skipped: \(problem)\n".utf8)) }
        print(outcome.result.table)
        if let out {
            try Files.createDirectory(out)
            let json = outcome.result.json(extra: [("skipped", .array(outcome.skipped.map { .string("\($0)") }))])
            try Files.writeAtomically(json.pretty, to: "\(out)/metrics.json")
        }
    }
}

TrainShards.main()
