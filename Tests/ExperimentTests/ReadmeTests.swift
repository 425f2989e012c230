import Foundation
import SynmixCore
import TestSupport
import XCTest

/// Every command in README.md's shell blocks is checked against the tool it calls: the subcommand exists and every
/// flag is one its `--help` lists — synmix's tools, `python -m synmix_torch.…` (with the interop Python) and `make`
/// targets. This covers the blocks that cannot run here (GPUs, the internet); ReadmeRunTests runs the others.
final class ReadmeTests: XCTestCase {
    func testEveryCommandInTheReadmeUsesASubcommandAndFlagsItsToolHas() throws {
        let readme = try String(contentsOfFile: "\(repositoryRoot)/README.md", encoding: .utf8)
        var checker = ReadmeChecker()
        let problems = try checker.problems(in: readme, file: "README.md")
        XCTAssertEqual(problems, [])
        XCTAssertGreaterThan(checker.checkedCommands, 35, "the checker found too few commands: is the README's block syntax still ```sh?")
        if interopPython != nil { XCTAssertGreaterThanOrEqual(checker.checkedPythonCommands, 3) }
    }

    /// The job scripts the README's cluster section submits are checked the same way.
    func testTheClusterJobScriptsUseFlagsTheirToolsHave() throws {
        var checker = ReadmeChecker()
        for file in ["harmonize.sbatch", "pack.sbatch"] {
            let script = try String(contentsOfFile: "\(repositoryRoot)/examples/\(file)", encoding: .utf8)
            XCTAssertEqual(try checker.problems(in: "```sh\n\(script)\n```", file: "examples/\(file)"), [])
        }
        XCTAssertEqual(checker.checkedCommands, 2)
    }

    /// The README names every Debian package the Makefile installs.
    func testTheReadmeListsTheDebianPackagesTheMakefileInstalls() throws {
        let readme = try String(contentsOfFile: "\(repositoryRoot)/README.md", encoding: .utf8)
        let packages = try makefileDebianPackages()
        XCTAssertGreaterThan(packages.count, 8)
        for package in packages { XCTAssertTrue(readme.contains("`\(package)`"), "README does not name the Debian package \(package)") }
    }

    func testAWrongFlagOrSubcommandInAScratchCopyOfTheReadmeIsCaught() throws {
        let readme = try String(contentsOfFile: "\(repositoryRoot)/README.md", encoding: .utf8)
        let broken = readme.replacingOccurrences(of: "--synthetic-count 20000", with: "--synthetic-cuont 20000")
            .replacingOccurrences(of: "pack-mix verify", with: "pack-mix verfy")
            .replacingOccurrences(of: "make demo QUICK=1", with: "make dmeo QUICK=1")
        XCTAssertNotEqual(broken, readme)
        var checker = ReadmeChecker()
        let problems = try checker.problems(in: broken, file: "scratch.md")
        XCTAssertTrue(problems.contains { $0.hasSuffix(": pack-mix pack has no --synthetic-cuont") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.hasSuffix(": pack-mix has no subcommand or flag verfy") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.hasSuffix(": the Makefile has no target dmeo") }, "\(problems)")
        XCTAssertTrue(problems.allSatisfy { $0.hasPrefix("scratch.md:") }, "\(problems)")
    }

    func testTheReadmeWalkthroughBlockIsExamplesWalkthroughSh() throws {
        let readme = try String(contentsOfFile: "\(repositoryRoot)/README.md", encoding: .utf8)
        let script = try String(contentsOfFile: "\(repositoryRoot)/examples/walkthrough.sh", encoding: .utf8)
        let section = try XCTUnwrap(readme.components(separatedBy: "## Try it on generated data").dropFirst().first)
        let block = try XCTUnwrap(section.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "\n```").first)
        let commands = block.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("BIN=") }
        let scriptLines = Set(script.split(separator: "\n").map(String.init))
        XCTAssertGreaterThan(commands.count, 15)
        for line in commands { XCTAssertTrue(scriptLines.contains(line), "README line not in examples/walkthrough.sh: \(line)") }
        let scriptCommands = script.split(separator: "\n").map(String.init).filter { $0.hasPrefix("\"$BIN/") }
        for line in scriptCommands { XCTAssertTrue(commands.contains(line), "walkthrough.sh line not in the README: \(line)") }
    }
}

/// Finds the tool invocations in Markdown shell blocks and checks them against the tools' `--help`.
struct ReadmeChecker {
    static let subcommands = ["pack-mix": ["pack", "merge", "verify", "coco"], "train-shards": ["fit", "evaluate", "predict"],
                              "synmix-generate": ["cityscapes", "synscapes", "fixtures"]]
    /// What runs when no subcommand is named (pack-mix packs).
    static let defaultSubcommand = ["pack-mix": "pack"]
    static let tools: Set<String> = ["harmonize", "filter-instances", "pack-mix", "train-shards", "synmix-generate", "synmix-demo"]
    var checkedCommands = 0
    var checkedPythonCommands = 0
    var helpTexts: [String: String] = [:]

    /// "FILE:LINE: what is wrong", for every command of every ```sh block.
    mutating func problems(in markdown: String, file: String) throws -> [String] {
        let makefile = try String(contentsOfFile: "\(repositoryRoot)/Makefile", encoding: .utf8)
        let targets = Set(makefile.split(separator: "\n").compactMap { line -> String? in
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("\t"), !line.hasPrefix("#") else { return nil }
            let name = line[..<colon]
            return name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } ? String(name) : nil
        })
        var found: [String] = []
        for (line, command) in Self.commands(in: markdown) {
            guard let first = command.first else { continue }
            let where_ = "\(file):\(line)"
            if first == "make" {
                checkedCommands += 1
                for target in command.dropFirst() where !target.contains("=") && !target.hasPrefix("-") && !targets.contains(target) {
                    found.append("\(where_): the Makefile has no target \(target)")
                }
                continue
            }
            if ["python", "python3", "torchrun"].contains(first), let m = command.firstIndex(of: "-m"), m + 1 < command.count,
               command[m + 1].hasPrefix("synmix_torch.") {
                guard let python = interopPython else { continue }
                checkedPythonCommands += 1
                let module = command[m + 1], arguments = Array(command[(m + 2)...])
                // train.py hands --model maskrcnn/pointrend to the detector's trainer, whose flags differ.
                let model = arguments.firstIndex(of: "--model").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
                let help = try pythonHelp(python, module, model: model)
                for token in arguments where token.hasPrefix("--") {
                    let flag = String(token.split(separator: "=", maxSplits: 1).first ?? "")
                    if !Self.lists(help, flag) { found.append("\(where_): python -m \(module) has no \(flag)") }
                }
                continue
            }
            let tool = String(first.split(separator: "/").last ?? "")
            guard Self.tools.contains(tool) else { continue }
            checkedCommands += 1
            var rest = Array(command.dropFirst())
            var subcommand: String?
            if let known = Self.subcommands[tool] {
                if let next = rest.first, !next.hasPrefix("-") {
                    guard known.contains(next) else {
                        found.append("\(where_): \(tool) has no subcommand or flag \(next)")
                        continue
                    }
                    subcommand = next
                    rest.removeFirst()
                } else {
                    subcommand = Self.defaultSubcommand[tool]
                }
            }
            let help = try helpText(tool, subcommand)
            for token in rest where token.hasPrefix("--") {
                let flag = String(token.split(separator: "=", maxSplits: 1).first ?? "")
                if ["--help", "--version"].contains(flag) { continue }
                if !Self.lists(help, flag) { found.append("\(where_): \(tool)\(subcommand.map { " " + $0 } ?? "") has no \(flag)") }
            }
        }
        return found
    }

    /// Whether a help text lists `flag` (followed by a space, a comma, `=`, `>` or the line's end).
    static func lists(_ help: String, _ flag: String) -> Bool {
        var search = help[...]
        while let range = search.range(of: flag) {
            let after = search[range.upperBound...].first
            if after == nil || " ,=>\n".contains(after!) { return true }
            search = search[range.upperBound...]
        }
        return false
    }

    mutating func pythonHelp(_ python: String, _ module: String, model: String?) throws -> String {
        let key = "python \(module) \(model ?? "")"
        if let known = helpTexts[key] { return known }
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = "\(repositoryRoot)/python"
        let result = try runProgramCapturingErrors(python, ["-m", module] + (model.map { ["--model", $0] } ?? []) + ["--help"],
                                                   environment: environment)
        guard result.status == 0 else { throw FileError(path: module, reason: "--help failed: \(result.errors.suffix(500))") }
        helpTexts[key] = result.output
        return result.output
    }

    mutating func helpText(_ tool: String, _ subcommand: String?) throws -> String {
        let key = tool + " " + (subcommand ?? "")
        if let known = helpTexts[key] { return known }
        guard let path = builtExecutable(tool) else { throw FileError(path: tool, reason: "not built: run `swift build --build-tests`") }
        let result = try runProgramCapturingErrors(path, (subcommand.map { [$0] } ?? []) + ["--help"])
        helpTexts[key] = result.output
        return result.output
    }

    /// Every simple command of every ```sh block: its line in the file and its words (quotes removed, comments
    /// dropped, continuation lines joined, split at `&&`, `||`, `|` and `;`, leading VAR=value assignments skipped).
    static func commands(in markdown: String) -> [(line: Int, words: [String])] {
        var result: [(Int, [String])] = []
        var inBlock = false, pending = "", pendingLine = 0
        for (index, raw) in markdown.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            if line.hasPrefix("```") {
                inBlock = line == "```sh" || line == "```bash"
                pending = ""
                continue
            }
            guard inBlock else { continue }
            if pending.isEmpty { pendingLine = index + 1 }
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
                continue
            }
            for words in split(words(pending + line)) { result.append((pendingLine, words)) }
            pending = ""
        }
        return result
    }

    /// Shell words: quotes removed, `#…` to the end of the line dropped outside quotes.
    static func words(_ text: String) -> [String] {
        var words: [String] = [], word = "", quote: Character?, inWord = false
        for character in text {
            if let open = quote {
                if character == open { quote = nil } else { word.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                inWord = true
            } else if character == " " || character == "\t" {
                if inWord { words.append(word); word = ""; inWord = false }
            } else if character == "#" && !inWord {
                break
            } else {
                word.append(character)
                inWord = true
            }
        }
        if inWord { words.append(word) }
        return words
    }

    /// Words split into simple commands, without leading assignments.
    static func split(_ words: [String]) -> [[String]] {
        var commands: [[String]] = [[]]
        for word in words {
            if ["&&", "||", "|", ";"].contains(word) { commands.append([]); continue }
            if word.hasSuffix(";") { commands[commands.count - 1].append(String(word.dropLast())); commands.append([]); continue }
            if commands[commands.count - 1].isEmpty, word.contains("="), !word.hasPrefix("-"),
               word.split(separator: "=").first.map({ $0.allSatisfy { $0.isUppercase || $0 == "_" || $0.isNumber } }) == true {
                continue
            }
            commands[commands.count - 1].append(word)
        }
        return commands.filter { !$0.isEmpty }
    }
}
