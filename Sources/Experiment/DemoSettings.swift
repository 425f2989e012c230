import Foundation

/// The mixed-training experiment of `make demo`, sized for a 2-core machine.
public struct DemoSettings: Sendable {
    public var out: String
    /// Folder holding the stage executables (harmonize, filter-instances, pack-mix, train-shards).
    public var bin: String
    public var mappings: String
    public var preset: String
    public var realTrain = 100, realVal = 100, syntheticTrain = 576, syntheticVal = 100
    /// Frames are generated at this size (the "original") and packed at the input size.
    public var frameWidth = 512, frameHeight = 256
    public var inputWidth = 256, inputHeight = 128
    public var steps = 500
    public var batch = 8
    /// Higher than train-shards' default 3e-3, for the short schedule: real-only, 500 steps,
    /// real val AP 6.2 at 3e-3, 13.8 at 1.2e-2, 11.4 at 2.4e-2.
    public var learningRate = 1.2e-2
    /// Appearance gap between the generated domains (Appearance.demoSynthetic).
    public var gap = 0.2
    public var seed: UInt64 = 1
    /// Repeat the headline runs (real only, and the largest fixed-share mix) with a
    /// second seed, so that the report can state the seed spread.
    public var secondSeed = true
    /// Train every synthetic count of Table 2 (else only the largest) and the two ablations.
    public var allCounts = true
    public var ablations = true
    /// Trainings run side by side, one thread each.
    public var lanes = 2

    /// The published Table 2 adds 3 000, 6 000, 9 000 and 20 000 synthetic images to
    /// 3 475 real ones; the demo keeps those ratios to its real training set (capped by
    /// the synthetic set; equal counts are trained once).
    var countPairs: [(count: Int, published: Int)] {
        var pairs: [(Int, Int)] = []
        for published in [3000, 6000, 9000, 20000] {
            let count = min(syntheticTrain, max(1, Int((Double(published) / 3475 * Double(realTrain)).rounded())))
            if pairs.last?.0 != count { pairs.append((count, published)) }
        }
        return allCounts ? pairs : [pairs.last!]
    }

    public var syntheticCounts: [Int] { countPairs.map(\.count) }
    /// The published count each of `syntheticCounts` stands for.
    public var publishedCounts: [Int] { countPairs.map(\.published) }

    public static func full(out: String, bin: String, mappings: String) -> DemoSettings {
        DemoSettings(out: out, bin: bin, mappings: mappings, preset: "full")
    }

    /// `make demo QUICK=1`: fewer val images and steps, one seed, only the largest mix and
    /// no ablations; the same stages and report (too few steps for the pattern to be reliable).
    public static func quick(out: String, bin: String, mappings: String) -> DemoSettings {
        var s = DemoSettings(out: out, bin: bin, mappings: mappings, preset: "quick")
        s.syntheticVal = 60
        s.realVal = 60
        s.steps = 300
        s.secondSeed = false
        s.allCounts = false
        s.ablations = false
        return s
    }

    /// A few images and steps: checks that every stage's output feeds the next (tests).
    public static func tiny(out: String, bin: String, mappings: String) -> DemoSettings {
        var s = DemoSettings(out: out, bin: bin, mappings: mappings, preset: "tiny")
        (s.realTrain, s.realVal, s.syntheticTrain, s.syntheticVal) = (6, 4, 36, 4)
        (s.frameWidth, s.frameHeight, s.inputWidth, s.inputHeight) = (128, 64, 64, 32)
        s.steps = 3
        s.batch = 2
        return s
    }

    init(out: String, bin: String, mappings: String, preset: String) {
        self.out = out
        self.bin = bin
        self.mappings = mappings
        self.preset = preset
    }
}
