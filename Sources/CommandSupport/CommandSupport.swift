import ArgumentParser
import Foundation
import SynmixCore
import SynmixFormats

// What every executable shares on its command line: one flag vocabulary
// (`--jobs`, `--max-errors`), the structured values' parsers, and the
// way a run reports skipped inputs and maps them to its exit status.

extension PixelSize: ExpressibleByArgument {}
extension NamedValue: ExpressibleByArgument {}
extension Partition: ExpressibleByArgument {}
extension CountRange: ExpressibleByArgument {}
extension Split: ExpressibleByArgument {}
extension SplitSelection: ExpressibleByArgument {}

extension Partition {
    /// The part a Slurm array task processes when `--partition` is absent: SLURM_ARRAY_TASK_ID counted from
    /// SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT (so `--array=1-8` and `--array=0-7` both give parts 1/8 … 8/8).
    public static func ofSlurmArrayTask(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Partition? {
        guard let id = environment["SLURM_ARRAY_TASK_ID"].flatMap(Int.init), let count = environment["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init) else {
            return nil
        }
        let first = environment["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0
        guard let partition = Partition("\(id - first + 1)/\(count)") else {
            throw ValidationError("SLURM_ARRAY_TASK_ID \(id) (from \(first)) of SLURM_ARRAY_TASK_COUNT \(count) is not a part I/N")
        }
        return partition
    }
}

/// `--jobs N` (also spelled `--threads`): threads a stage runs on.
public struct Parallelism: ParsableArguments {
    public static let defaultJobs = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: [.customLong("jobs"), .customLong("threads")],
            help: "Threads to run on (default: all cores); results do not depend on it.")
    public var jobs = Parallelism.defaultJobs

    public init() {}

    public func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs (or --threads) must be at least 1, got \(jobs)") }
    }
}

/// `--max-errors N`: bad inputs are reported and skipped either way; more than N make the exit status 1.
public struct ErrorBudget: ParsableArguments {
    public static let defaultMaxErrors = 0

    @Option(help: "Exit with status 1 if more inputs than this were skipped (each is reported and skipped either way).")
    public var maxErrors = ErrorBudget.defaultMaxErrors

    public init() {}

    public func validate() throws {
        guard maxErrors >= 0 else { throw ValidationError("--max-errors must be 0 or more, got \(maxErrors)") }
    }

    /// Prints the first skipped inputs to standard error, and fails the run when there are more than allowed.
    public func settle<E: CustomStringConvertible>(_ errors: [E], tool: String, shown: Int = 10, more: String? = nil) throws {
        for error in errors.prefix(shown) { printError("  skipped: \(error)") }
        if errors.count > shown { printError("  … \(errors.count - shown) more" + (more.map { " in \($0)" } ?? "")) }
        if errors.count > maxErrors {
            printError("\(tool): \(errors.count) skipped inputs exceed --max-errors \(maxErrors)")
            throw ExitCode(1)
        }
    }
}

public func printError(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

/// Unbuffered, so progress lines appear as they happen, also in a pipe.
public func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }

/// A single self-overwriting progress line on standard error with rate and ETA,
/// shown only on a terminal (logs and pipes get the stage's final summary line only).
public final class ProgressLine: Sendable {
    let label: String
    let unit: String
    let started: Date
    let enabled = isatty(STDERR_FILENO) != 0

    public init(label: String, unit: String, started: Date = Date()) {
        self.label = label
        self.unit = unit
        self.started = started
    }

    /// Runs `body` with a progress line that is ended however `body` ends.
    public static func during<T>(_ label: String, unit: String, started: Date = Date(), _ body: (ProgressLine) throws -> T) rethrows -> T {
        let meter = ProgressLine(label: label, unit: unit, started: started)
        defer { meter.finish() }
        return try body(meter)
    }

    public func update(_ done: Int, _ total: Int?) {
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(started)
        let rate = Double(done) / max(elapsed, 1e-9)
        let line: String
        if let total {
            let eta = rate > 0 ? Double(total - done) / rate : 0
            line = String(format: "\r%@: %d/%d %@, %.1f %@/s, ETA %.0f s   ", label, done, total, unit, rate, unit, eta)
        } else {
            line = String(format: "\r%@: %d %@, %.1f %@/s   ", label, done, unit, rate, unit)
        }
        FileHandle.standardError.write(Data(line.utf8))
    }

    public func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
