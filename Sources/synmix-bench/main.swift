import ArgumentParser
import Dispatch
import Foundation
import CImageShim
import SynmixCore

/// Baselines for `make bench`: the cost floors our stages are compared with.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synmix-bench", abstract: "Benchmark baselines.", subcommands: [DecodeFloor.self])
}

/// Decodes every `*_gtFine_instanceIds.png` under a Cityscapes root and does
/// nothing else, on `--jobs` threads: the floor for harmonize. With
/// `--libpng-only` every file goes through libpng (the floor the issue names);
/// without it, through synmix's decoder (libdeflate's direct path).
struct DecodeFloor: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decode-floor")
    @Option var root: String
    @Option var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Option var limit: Int?
    @Flag var libpngOnly = false

    func run() throws {
        // A floor measures decoding alone: keep freed image buffers in the heap
        // instead of returning them to the kernel after every image (glibc's
        // default here costs page faults on par with the decode itself).
        synmix_keep_freed_memory()
        var files: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: "\(root)/gtFine")!
        while let path = enumerator.nextObject() as? String {
            if path.hasSuffix("_gtFine_instanceIds.png") { files.append("\(root)/gtFine/\(path)") }
        }
        files.sort()
        if let limit { files = Array(files.prefix(limit)) }
        let paths = files
        let started = Date()
        let jobs = self.jobs
        let options = PNGDecodeOptions(libpngOnly: libpngOnly)
        DispatchQueue.concurrentPerform(iterations: jobs) { worker in
            var index = worker
            while index < paths.count {
                let bytes = try! Files.read(paths[index])
                _ = try! PNGCodec.decode(bytes, path: paths[index], options: options)
                index += jobs
            }
        }
        let seconds = Date().timeIntervalSince(started)
        print(String(format: #"{"images": %d, "seconds": %.3f, "images_per_second": %.1f}"#,
                     paths.count, seconds, Double(paths.count) / seconds))
    }
}

Bench.main()
