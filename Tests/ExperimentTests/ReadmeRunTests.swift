import Foundation
import SynmixCore
import TestSupport
import TrainShards
import XCTest
import SynmixFormats

/// README.md's shell blocks as documentation tests: every block says whether it runs here (`<!-- run -->`,
/// `<!-- run: cluster -->`) or why not (`<!-- not run: REASON -->`); the blocks that run, run, on generated
/// look-alikes of the datasets, with sizes made small through one table. (The flags of every block, run or not,
/// are checked against the tools' `--help` in ReadmeTests.)
final class ReadmeRunTests: XCTestCase {
    /// README text → what runs here. Every row must be used: a row that no longer matches the README fails the test.
    static let substitutions: [(readme: String, here: String)] = [
        ("/data/cityscapes", "$DATA/cityscapes"),
        ("/data/Synscapes", "$DATA/synscapes"),
        ("--synthetic-count 20000", "--synthetic-count 24"),
        ("--shard-samples 200", "--shard-samples 4"),
        ("--epochs 50", "--epochs 1"),
        ("--epochs 10", "--epochs 1"),
        ("--steps 37000", "--steps 3"),
        ("--input-size 512x256", "--input-size 64x32"),
        ("--preview 20", "--preview 2"),
    ]

    /// Stand-ins, as shell functions, for the commands a block calls that do not run here.
    static let prelude = """
        set -euo pipefail
        make() { :; }   # the test's build made the tools
        # Slurm: runs an array job's tasks one after another and returns when all are done (as --wait does)
        sbatch() {
            local array="" script=""
            for argument in "$@"; do
                case "$argument" in --array=*) array=${argument#--array=} ;; -*) ;; *) script=$argument ;; esac
            done
            local first=${array%-*} last=${array#*-}
            for ((task = first; task <= last; task++)); do
                SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_MIN=$first SLURM_ARRAY_TASK_MAX=$last \\
                    SLURM_ARRAY_TASK_COUNT=$((last - first + 1)) bash "$script" || return 1
            done
        }

        """

    struct Block {
        var line: Int
        /// What the marker says: "run", "run: cluster", "not run: …"; nil when the block has none.
        var marker: String?
        var text: String
    }

    /// The ```sh blocks of a Markdown text, each with the `<!-- … -->` marker on the line before it.
    static func blocks(_ markdown: String) -> [Block] {
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var blocks: [Block] = [], index = 0
        while index < lines.count {
            guard lines[index] == "```sh" || lines[index] == "```bash" else { index += 1; continue }
            let before = index > 0 ? lines[index - 1] : ""
            let marker = before.hasPrefix("<!-- ") && before.hasSuffix(" -->") ? String(before.dropFirst(5).dropLast(4)) : nil
            var end = index + 1
            while end < lines.count, !lines[end].hasPrefix("```") { end += 1 }
            blocks.append(Block(line: index + 1, marker: marker, text: lines[(index + 1)..<end].joined(separator: "\n")))
            index = end + 1
        }
        return blocks
    }

    var readme: String { get throws { try String(contentsOfFile: "\(repositoryRoot)/README.md", encoding: .utf8) } }

    func testEveryReadmeBlockRunsOrSaysWhyItCannot() throws {
        let blocks = Self.blocks(try readme)
        XCTAssertGreaterThan(blocks.count, 8)
        for block in blocks {
            let marker = try XCTUnwrap(block.marker, "README.md:\(block.line): a shell block without <!-- run --> or <!-- not run: REASON -->")
            let runs = marker == "run" || marker == "run: cluster"
            let reason = marker.hasPrefix("not run") ? marker.drop { $0 != ":" }.dropFirst().trimmingCharacters(in: .whitespaces) : ""
            XCTAssertTrue(runs || reason.count > 10, "README.md:\(block.line): '\(marker)' neither runs nor says why not")
        }
        XCTAssertEqual(blocks.filter { $0.marker == "run" }.count, 3)
        XCTAssertEqual(blocks.filter { $0.marker == "run: cluster" }.count, 1)
    }

    /// Generated look-alikes of both datasets, the tools, and folders laid out as the repository is for the
    /// README's commands (.build/release and the job scripts), in which blocks run through the substitutions.
    struct Playground {
        static let sbatchFiles = ["harmonize.sbatch", "pack.sbatch"]
        let tools: String, data: String, jobScripts: [String]

        init() throws {
            tools = try stageToolsFolder()
            data = try temporaryFolder("data")
            jobScripts = try Self.sbatchFiles.map { try String(contentsOfFile: "\(repositoryRoot)/examples/\($0)", encoding: .utf8) }
            for (dataset, arguments) in [("cityscapes", ["--count", "12", "--split", "train"]),
                                         ("cityscapes", ["--count", "6", "--split", "val", "--city", "valcity", "--seed", "2"]),
                                         ("synscapes", ["--count", "48"])] {
                let result = try runProgramCapturingErrors("\(tools)/synmix-generate", [dataset, "--out", "\(data)/\(dataset)",
                                                           "--width", "256", "--height", "128", "--look", "demo"] + arguments)
                XCTAssertEqual(result.status, 0, result.errors)
            }
        }

        func substituted(_ text: String) -> String {
            ReadmeRunTests.substitutions.reduce(text) { $0.replacingOccurrences(of: $1.readme, with: $1.here) }
        }

        func checkout(_ name: String) throws -> String {
            let folder = try temporaryFolder(name)
            try Files.createDirectory("\(folder)/.build")
            try FileManager.default.createSymbolicLink(atPath: "\(folder)/.build/release", withDestinationPath: tools)
            try Files.createDirectory("\(folder)/examples")
            for (file, script) in zip(Self.sbatchFiles, jobScripts) { try Files.writeAtomically(substituted(script), to: "\(folder)/examples/\(file)") }
            return folder
        }

        /// Runs the blocks, substituted, after the prelude, in one bash in `folder`.
        func run(_ blocks: [Block], in folder: String) throws -> (status: Int32, errors: String) {
            var environment = ProcessInfo.processInfo.environment
            environment["DATA"] = data
            let script = ReadmeRunTests.prelude + blocks.map { substituted($0.text) }.joined(separator: "\n")
            let result = try runProgramCapturingErrors("/bin/bash", ["-c", script], environment: environment, in: folder)
            return (result.status, result.errors)
        }
    }

    /// The real-datasets path, on generated datasets: the run blocks in one shell in one folder, then the cluster
    /// block in a second folder, whose Synscapes manifest and shards must be the one-shot commands' bytes.
    func testTheReadmesRealDatasetPathRunsOnGeneratedDataAndItsClusterPathGivesTheSameBytes() throws {
        let blocks = Self.blocks(try readme)
        let playground = try Playground()
        let ran = (blocks.filter { $0.marker?.hasPrefix("run") == true }.map(\.text) + playground.jobScripts).joined(separator: "\n")
        for (readme, _) in Self.substitutions {
            XCTAssertTrue(ran.contains(readme), "substitution '\(readme)' matches nothing the test runs: remove or update it")
        }

        let oneShot = try playground.checkout("one-shot")
        let result = try playground.run(blocks.filter { $0.marker == "run" }, in: oneShot)
        XCTAssertEqual(result.status, 0, "\(result.errors.suffix(3000))")
        let work = "\(oneShot)/work"
        XCTAssertEqual(try ShardIndex.read(folder: "\(work)/mix-20000").samples, 12 + 24)
        XCTAssertEqual(try ShardIndex.read(folder: "\(work)/real-val").samples, 6)
        XCTAssertEqual(try ShardIndex.read(folder: "\(work)/real-train").samples, 12)
        XCTAssertEqual(try ShardIndex.read(folder: "\(work)/synthetic-20000").samples, 24)
        XCTAssertEqual(try TrainingMetrics.read(folder: "\(work)/run").steps.count, 5)   // one epoch of 36 in batches of 8
        XCTAssertEqual(try TrainingMetrics.read(folder: "\(work)/run-share").steps.count, 3)
        XCTAssertEqual(try Checkpoint.config(at: "\(work)/fine-tuned/model.safetensors").width, try Checkpoint.config(at: "\(work)/pre/model.safetensors").width)
        XCTAssertEqual(Files.list("\(work)/results").filter { $0.hasSuffix("_pred.txt") }.count, 6)
        XCTAssertNotNil(try JSON.parse(try Files.read("\(work)/results-ap/metrics.json"))["coco"])
        let classes = Set(try XCTUnwrap(try ShardIndex.read(folder: "\(work)/mix-20000").taxonomy).classes.map(\.name))
        XCTAssertEqual(try FormatsDocument.gaps(in: work, dataNames: classes) { _ in false }.problems, [])

        let cluster = try playground.checkout("cluster")
        let clusterResult = try playground.run(blocks.filter { $0.marker == "run: cluster" }, in: cluster)
        XCTAssertEqual(clusterResult.status, 0, "\(clusterResult.errors.suffix(3000))")
        XCTAssertEqual(try Files.read("\(cluster)/work/synscapes/manifest.jsonl"), try Files.read("\(work)/synscapes/manifest.jsonl"))
        let shards = Files.list("\(work)/mix-20000").filter { $0.hasSuffix(".tar") }.sorted()
        XCTAssertEqual(shards.count, 9)
        XCTAssertEqual(Files.list("\(cluster)/work/mix-20000").filter { $0.hasSuffix(".tar") }.sorted(), shards)
        for shard in shards {
            XCTAssertEqual(try Files.read("\(cluster)/work/mix-20000/\(shard)"), try Files.read("\(work)/mix-20000/\(shard)"), shard)
        }
    }

    /// A path that no earlier command creates, in a scratch copy of the README, stops the run with the path named.
    func testAWrongPathInAScratchCopyOfTheReadmeFailsTheRun() throws {
        let readme = try readme
        let broken = readme.replacingOccurrences(of: "--shard-samples 200 --out work/real-val", with: "--shard-samples 200 --out work/val")
        XCTAssertNotEqual(broken, readme)
        let playground = try Playground()
        let result = try playground.run(Self.blocks(broken).filter { $0.marker == "run" }, in: try playground.checkout("scratch"))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.errors.contains("work/real-val/mix-*.tar: no shard matches"), "\(result.errors.suffix(2000))")
    }
}
