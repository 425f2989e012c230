import CommandSupport
import Evaluation
import Experiment
import FilterInstances
import Foundation
import Harmonize
import PackMix
import SynmixCore
import SynmixGenerate
import TestSupport
import TrainShards
import XCTest

/// Every default a tool's `--help` shows is the library's: the executables take their defaults from the settings
/// types (HarmonizeOptions, FilterOptions, PackOptions, FitOptions, …) instead of writing them a second time.
final class HelpDefaultsTests: XCTestCase {
    /// Per command, each flag's default as the library defines it. A default that `--help` shows and this table
    /// lacks fails the test too, so a new one must name its owner here.
    static var expected: [String: [String: String]] {
        let jobs = "\(Parallelism.defaultJobs)", maxErrors = "\(ErrorBudget.defaultMaxErrors)"
        let harmonize = HarmonizeOptions.defaults, filter = FilterOptions.defaults, pack = PackOptions.defaults
        let fit = FitOptions.defaults, generate = GenerateSettings.defaults, demo = DemoSettings.defaults
        let generated = ["--seed": "\(generate.seed)", "--png-level": "\(generate.pngLevel)", "--noise": "\(generate.noise)",
                         "--jobs": jobs, "--objects": "\(CountRange(generate.extraObjects))", "--gap": "\(generate.gap)",
                         "--look": generate.look.rawValue]
        return [
            "harmonize": ["--split": harmonize.split.rawValue, "--jobs": jobs, "--val-fraction": "\(harmonize.valFraction)",
                          "--max-errors": maxErrors, "--max-pixels": "\(harmonize.maxPixels)"],
            "filter-instances": ["--policy": filter.policy.rawValue, "--calibration-percentile": "\(filter.calibrationPercentile)",
                                 "--preview": "\(filter.previews)", "--max-errors": maxErrors, "--jobs": jobs],
            "pack-mix pack": ["--seed": "\(pack.seed)", "--name": pack.prefix, "--shard-samples": "\(pack.shardSamples)",
                              "--image-format": pack.sample.imageFormat.rawValue, "--jpeg-quality": "\(pack.sample.jpegQuality)",
                              "--split": pack.split.rawValue, "--jobs": jobs, "--max-errors": maxErrors,
                              "--synthetic-count": "\(PackInput.defaultCount)"],
            "pack-mix coco": ["--max-errors": maxErrors],
            "pack-mix merge": [:],
            "pack-mix verify": [:],
            "train-shards fit": ["--batch": "\(fit.batch)", "--input-size": "\(fit.inputWidth)x\(fit.inputHeight)",
                                 "--lr": "\(fit.learningRate)", "--seed": "\(fit.seed)", "--jobs": jobs, "--max-errors": maxErrors,
                                 "--checkpoint-every": "\(fit.checkpointEvery)", "--log-every": "\(fit.logEvery)",
                                 "--center-sigma": "\(fit.centerSigma)", "--cache-mib": "\(fit.decodedCacheBytes >> 20)"],
            "train-shards evaluate": ["--jobs": jobs, "--max-errors": maxErrors,
                                      "--split": CityscapesEvaluation.Options.defaults.split.rawValue,
                                      "--overlays": "0"],   // an option of the command alone: none drawn unless asked
            "train-shards predict": ["--jobs": jobs, "--max-errors": maxErrors],
            "synmix-generate cityscapes": generated.merging([
                "--width": "\(generate.cityscapesSize.width)", "--height": "\(generate.cityscapesSize.height)",
                "--split": generate.split.rawValue, "--city": generate.city]) { $1 },
            "synmix-generate synscapes": generated.merging([
                "--width": "\(generate.synscapesSize.width)", "--height": "\(generate.synscapesSize.height)"]) { $1 },
            "synmix-generate fixtures": ["--out": Fixtures.defaultFolder],
            "synmix-demo": ["--out": DemoSettings.defaultOut, "--synthetic-val-fraction": "\(demo.syntheticValFraction)",
                            "--model": demo.model.rawValue, "--nproc-per-node": "\(demo.processes)", "--seed": "\(demo.seed)"],
        ]
    }

    /// The `(default: …)` of every option a help text lists, by its long flag (the last one an entry shows:
    /// ArgumentParser appends the value after any prose).
    static func defaults(inHelp help: String) -> [String: String] {
        var entries: [String] = []
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  -") {
                entries.append(line.trimmingCharacters(in: .whitespaces))
            } else if line.hasPrefix("   "), !entries.isEmpty {
                entries[entries.count - 1] += " " + line.trimmingCharacters(in: .whitespaces)
            } else if !line.hasPrefix("  ") {
                entries.append("")
            }
        }
        var found: [String: String] = [:]
        for entry in entries {
            guard let flag = entry.split(separator: " ").map(String.init).first(where: { $0.hasPrefix("--") })?
                .trimmingCharacters(in: CharacterSet(charactersIn: ",")),
                let range = entry.range(of: #"default: [^)]*\)[^(]*$"#, options: .regularExpression) else { continue }
            found[flag] = String(entry[range].dropFirst("default: ".count).prefix { $0 != ")" })
        }
        return found
    }

    func testEveryDefaultThatHelpShowsIsTheLibrarysSetting() throws {
        for (command, expected) in Self.expected {
            let words = command.split(separator: " ").map(String.init)
            let tool = try XCTUnwrap(builtExecutable(words[0]), "\(words[0]) is not built")
            let help = try runProgramCapturingErrors(tool, Array(words.dropFirst()) + ["--help"]).output
            XCTAssertTrue(help.contains("USAGE"), command)
            // Prose ("the preset's") and where a file is looked for ("mappings/taxonomy.yaml") are not values.
            let shown = Self.defaults(inHelp: help).filter { !$0.value.contains(" ") && !$0.value.contains("/") }
            XCTAssertEqual(shown, expected, command)
        }
    }

    func testTheHelpParserReadsValuesAfterProse() {
        let help = """
            OPTIONS:
              --jobs, --threads <jobs>
                                      Threads to run on (default: all cores); results do not
                                      depend on it. (default: 2)
              --policy <policy>       ignore or drop (values: ignore, drop; default: ignore)
              --steps <steps>         Training steps per run (default: the preset's).
              -h, --help              Show help information.
            """
        XCTAssertEqual(Self.defaults(inHelp: help), ["--jobs": "2", "--policy": "ignore", "--steps": "the preset's"])
    }
}
