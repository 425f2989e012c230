import Foundation
import SynmixGenerate

/// The mixed-training experiment of `make demo`, sized for a 2-core machine.
public struct DemoSettings: Sendable {
    public var out: String
    /// Folder holding the stage executables (harmonize, filter-instances, pack-mix, train-shards).
    public var bin: String
    public var mappings: String
    public var preset: String
    public var realTrain = 100, realVal = 300, syntheticTrain = 576, syntheticVal = 100
    /// How often each class appears in the real train set and the synthetic train set (both val sets are balanced).
    /// Measured: with Cityscapes' own frequencies in the synthetic set (too few rare examples even at +576),
    /// mixed training gained only 1–3 AP over real-only.
    public var realTrainClasses = DemoLook.ClassMix.longTail
    public var syntheticClasses = DemoLook.ClassMix.balanced
    /// Frames are generated at this size (the "original") and packed at the input size.
    public var frameWidth = 512, frameHeight = 256
    public var inputWidth = 192, inputHeight = 96
    /// Steps of every run (the convergence control trains twice as many).
    public var steps = 3000
    public var batch = 8
    /// The network's base width (train-shards fit --width).
    public var width = 16
    public var learningRate = 1.2e-2
    /// Share of real images in every batch of a mixed run (`fit --share real=…`).
    public var realShare = 0.5
    /// Appearance gap between the generated domains (Appearance.demoSynthetic).
    public var gap = 0.8
    public var seed: UInt64 = 1
    /// Seeds of real-only and the largest mix (the others run once).
    public var seeds = 3
    /// Train every synthetic count of Table 2 (else only the largest) and the two ablations.
    public var allCounts = true
    public var ablations = true
    /// Train only these configurations (DemoRun names), or all.
    public var only: Set<String>?
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
    public var largest: Int { syntheticCounts.last! }

    public enum Preset: String, CaseIterable, Sendable {
        /// Every table, 3 seeds (about 14 minutes on 2 cores).
        case full
        /// Real-only and the largest mix with 2 seeds, fewer steps and val images (under 5 minutes;
        /// may be inconclusive, and says so).
        case quick
        /// A few images and steps: checks that every stage's output feeds the next (tests).
        case tiny
    }

    public init(preset: Preset, out: String, bin: String, mappings: String) {
        self.out = out
        self.bin = bin
        self.mappings = mappings
        self.preset = preset.rawValue
        switch preset {
        case .full:
            break
        case .quick:
            (realVal, syntheticVal) = (150, 60)
            steps = 500
            seeds = 2
            allCounts = false
            ablations = false
        case .tiny:
            (realTrain, realVal, syntheticTrain, syntheticVal) = (6, 4, 36, 4)
            (frameWidth, frameHeight, inputWidth, inputHeight) = (128, 64, 64, 32)
            steps = 4
            batch = 2
            seeds = 2
        }
    }
}
