import ArgumentParser
import CommandSupport
import Foundation
import SynmixCore
import SynmixGenerate

extension DemoLook.ClassMix: ExpressibleByArgument {}

/// `--look`: the committed fixtures' flat colours, or the demo benchmark's textured, blurred, noisy frames.
extension GenerateSettings.Look: ExpressibleByArgument {}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synmix-generate",
        abstract: "Generate street-scene datasets in the original Cityscapes and Synscapes layouts.",
        version: synmixVersion,
        subcommands: [FixturesCommand.self, CityscapesCommand.self, SynscapesCommand.self])
}

struct FixturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fixtures",
                                                    abstract: "Write the committed test fixtures (deterministic).")
    @Option(help: "Output folder (holds cityscapes/ and synscapes/).")
    var out = Fixtures.defaultFolder

    func run() throws {
        try Fixtures.write(to: out)
        print("synmix-generate: fixtures written to \(out)")
    }
}

struct CommonOptions: ParsableArguments {
    @Option(help: "Output dataset root.")
    var out: String
    @Option(help: "Number of frames.")
    var count: Int
    @Option(help: "Random seed.")
    var seed = GenerateSettings.defaults.seed
    @Option(help: "zlib level of the PNGs (1 fast and larger, 9 small and slow).")
    var pngLevel = GenerateSettings.defaults.pngLevel
    @Option(help: "Per-pixel sensor noise (standard deviation in 8-bit levels).")
    var noise = GenerateSettings.defaults.noise
    @OptionGroup var parallelism: Parallelism
    @Option(help: "Random objects per scene, MIN-MAX (nearer ones hide some).")
    var objects = CountRange(GenerateSettings.defaults.extraObjects)
    @Option(help: "fixture (flat colours) or demo (the benchmark's textured, blurred, noisy looks).")
    var look = GenerateSettings.defaults.look
    @Option(help: "Demo look: how far the synthetic palette and lighting are from the real ones (0...1).")
    var gap = GenerateSettings.defaults.gap
    @Option(help: "Scale of people and two-wheelers on top of the perspective (default 1, with the demo look \(DemoLook.smallClassScale)).")
    var smallScale: Double?
    @Option(help: """
        How often each class appears: \(DemoLook.ClassMix.allCases.map { "\($0.rawValue) (\($0.summary))" }.joined(separator: ", ")). \
        Default street; with the demo look long-tail for Cityscapes, balanced for Synscapes.
        """)
    var classes: DemoLook.ClassMix?

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
        guard (0...9).contains(pngLevel) else { throw ValidationError("--png-level must be in 0...9, got \(pngLevel)") }
        guard noise.isFinite, noise >= 0 else { throw ValidationError("--noise must be a finite number >= 0, got \(noise)") }
        guard (0...1).contains(gap) else { throw ValidationError("--gap must be in [0, 1], got \(gap)") }
        if let smallScale, !(smallScale > 0 && smallScale <= 4) { throw ValidationError("--small-scale must be in (0, 4], got \(smallScale)") }
    }

    var demo: Bool { look == .demo }

    /// The scene builder these options describe; `demoClasses` is the class mix of the demo look.
    func builder(width: Int, height: Int, demoClasses: DemoLook.ClassMix) throws -> StreetSceneBuilder {
        var builder = demo ? DemoLook.builder(width: width, height: height, classes: classes ?? demoClasses, objects: objects.range)
                           : StreetSceneBuilder(width: width, height: height, extraObjects: objects.range)
        if let classes { builder.classWeights = classes.weights }
        if let smallScale { builder.smallClassScale = smallScale }
        return builder
    }

}

struct CityscapesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cityscapes", abstract: "A Cityscapes-layout dataset.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Frame width in pixels.") var width = GenerateSettings.defaults.cityscapesSize.width
    @Option(help: "Frame height in pixels.") var height = GenerateSettings.defaults.cityscapesSize.height
    @Option(help: "The split folder the frames go to (train, val or test).") var split = GenerateSettings.defaults.split
    @Option(help: "The city folder and file-name prefix.") var city = GenerateSettings.defaults.city

    func validate() throws {
        guard width >= 64, height >= 32, width * height <= PNGDecodeOptions.defaultMaxPixels else {
            throw ValidationError("--width/--height must be at least 64x32 and at most \(PNGDecodeOptions.defaultMaxPixels) pixels")
        }
        guard !city.isEmpty, Files.safeName(city) == city else { throw ValidationError("--city must be a plain name ([A-Za-z0-9_-]), got '\(city)'") }
    }

    func run() throws {
        var appearance = common.demo ? Appearance.demoReal : Appearance.fixtureReal
        if !common.demo { appearance.noise = common.noise }
        let policy = common.demo ? DemoLook.policy(width: width, height: height) : nil
        try DatasetGenerator.cityscapes(root: common.out, count: common.count,
                                        builder: try common.builder(width: width, height: height, demoClasses: .longTail), split: split,
                                        city: city, seed: common.seed, appearance: appearance, policy: policy,
                                        pngLevel: common.pngLevel, jobs: common.parallelism.jobs)
        print("synmix-generate: \(common.count) Cityscapes frames (\(width)x\(height)) in \(common.out)")
    }
}

struct SynscapesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "synscapes", abstract: "A Synscapes-layout dataset.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Frame width in pixels.") var width = GenerateSettings.defaults.synscapesSize.width
    @Option(help: "Frame height in pixels.") var height = GenerateSettings.defaults.synscapesSize.height

    func validate() throws {
        guard width >= 64, height >= 32, width * height <= PNGDecodeOptions.defaultMaxPixels else {
            throw ValidationError("--width/--height must be at least 64x32 and at most \(PNGDecodeOptions.defaultMaxPixels) pixels")
        }
    }

    func run() throws {
        var appearance = common.demo ? Appearance.demoSynthetic(gap: common.gap) : Appearance.fixtureSynthetic
        if !common.demo { appearance.noise = common.noise }
        try DatasetGenerator.synscapes(root: common.out, count: common.count,
                                       builder: try common.builder(width: width, height: height, demoClasses: .balanced),
                                       seed: common.seed, appearance: appearance, pngLevel: common.pngLevel, jobs: common.parallelism.jobs)
        print("synmix-generate: \(common.count) Synscapes frames (\(width)x\(height)) in \(common.out)")
    }
}

Generate.main()
