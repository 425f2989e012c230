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
    @Flag(help: "Also compute COCO-style mask AP (pycocotools COCOeval, segm).") var coco = false

    func run() throws {
        var options = CityscapesEvaluation.Options(groundTruth: cityscapesGt, predictions: predictions)
        options.split = split
        options.skipBad = skipBad
        let (images, skipped) = try CityscapesEvaluation.load(options)
        for problem in skipped { FileHandle.standardError.write(Data("skipped: \(problem)\n".utf8)) }
        let classNames = CityscapesEvaluation.classes.map(\.name)
        let result = InstanceEvaluator(classNames: classNames).evaluate(images)
        print(result.table)
        var extra: [(String, JSON)] = [("skipped", .array(skipped.map { .string("\($0)") }))]
        if coco {
            let stats = COCOEvaluator().evaluate(images, classCount: classNames.count)
            for (name, value) in zip(COCOEvaluator.statNames, stats) {
                print("COCO " + name.padding(toLength: 6, withPad: " ", startingAt: 0) + String(format: " %.3f", value))
            }
            extra.append(("coco", .object(zip(COCOEvaluator.statNames, stats).map { ($0, .double($1)) })))
        }
        if let out {
            try Files.createDirectory(out)
            let json = result.json(extra: extra)
            try Files.writeAtomically(json.pretty, to: "\(out)/metrics.json")
        }
    }
}

TrainShards.main()
