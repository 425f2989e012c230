// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "synmix",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "harmonize", targets: ["harmonize-command"]),
        .executable(name: "filter-instances", targets: ["filter-instances"]),
        .executable(name: "pack-mix", targets: ["pack-mix"]),
        .executable(name: "train-shards", targets: ["train-shards"]),
        .executable(name: "synmix-generate", targets: ["synmix-generate"]),
        .executable(name: "synmix-demo", targets: ["synmix-demo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C libraries from Debian packages (the Makefile's `deps` installs them).
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo",
                       providers: [.apt(["libcairo2-dev"])]),
        // GitHub-flavoured Markdown (tables) to HTML, for the demo's report.html.
        .systemLibrary(name: "CCmark", path: "Sources/CCmark", pkgConfig: "libcmark-gfm",
                       providers: [.apt(["libcmark-gfm-dev", "libcmark-gfm-extensions-dev"])]),
        // libpng/libjpeg error handling needs setjmp, which Swift cannot call.
        // libdeflate inflates label PNGs about twice as fast as zlib (see CImageShim).
        .target(name: "CImageShim", dependencies: ["CPNG", "CJPEG"],
                linkerSettings: [.linkedLibrary("deflate")]),

        // Shared by every stage: image codecs, COCO RLE, manifest records, taxonomy.
        .target(name: "SynmixCore", dependencies: [
            "CImageShim", "CCrypto", .product(name: "Yams", package: "Yams"),
        ]),
        // Stage libraries: the only code that knows Cityscapes and Synscapes exist.
        // Cityscapes' label table (cityscapesScripts' labels.py), for the readers, the evaluator and the generator.
        // Every file passed between stages: one owner type each (docs/formats.md).
        .target(name: "SynmixFormats", dependencies: ["SynmixCore"]),
        .target(name: "CityscapesLabels"),
        .target(name: "Harmonize", dependencies: ["SynmixFormats", "SynmixCore", "CityscapesLabels"]),
        // Pictures drawn with cairo: images, masks, boxes, text, PNG (previews, overlays).
        .target(name: "Pictures", dependencies: ["SynmixFormats", "SynmixCore", "CCairo"]),
        .target(name: "FilterInstances", dependencies: ["SynmixFormats", 
            "SynmixCore", "Pictures", .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "PackMix", dependencies: ["SynmixFormats", "SynmixCore"]),
        // COCO instances.json from a manifest or from shards.
        .target(name: "CocoExport", dependencies: ["SynmixCore", "SynmixFormats"]),
        .target(name: "Evaluation", dependencies: ["SynmixCore", "SynmixFormats", "CityscapesLabels"]),
        // The network: layers (forward/backward pairs over OpenBLAS), model, workspace, losses, AdamW, safetensors.
        .target(name: "Network", dependencies: ["SynmixCore", "COpenBLAS"]),
        // Training data from shards: streaming and shuffling, decoding, targets, augmentation, batches.
        .target(name: "ShardData", dependencies: ["SynmixCore", "SynmixFormats"]),
        // The trainer: the loop, checkpoints, metrics.json, inference and scoring through Evaluation.
        .target(name: "TrainShards", dependencies: ["SynmixCore", "SynmixFormats", "Network", "ShardData", "COpenBLAS", "Evaluation", "Pictures"]),
        .target(name: "SynmixGenerate", dependencies: ["SynmixCore", "SynmixFormats", "CityscapesLabels"]),
        // The demo experiment: runs the stage executables on generated data and writes the report.
        .target(name: "Experiment", dependencies: ["SynmixCore", "SynmixFormats", "SynmixGenerate", "Pictures", "CCmark"]),

        // The executables' shared flags (--jobs, --max-errors) and option value parsers.
        .target(name: "CommandSupport", dependencies: [
            "SynmixCore", "SynmixFormats", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Thin executables.
        // Not "harmonize": the folder would collide with Sources/Harmonize on a case-insensitive
        // file system (macOS). The product, and so the binary, keeps the name users type.
        .executableTarget(name: "harmonize-command", dependencies: [
            "CommandSupport", "Harmonize", "SynmixFormats", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "filter-instances", dependencies: [
            "CommandSupport", "FilterInstances", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "pack-mix", dependencies: [
            "CommandSupport", "PackMix", "CocoExport", "SynmixFormats", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "train-shards", dependencies: [
            "CommandSupport", "TrainShards", "Network", "ShardData", "SynmixFormats", "Evaluation", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "synmix-generate", dependencies: [
            "CommandSupport", "SynmixGenerate", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "synmix-demo", dependencies: [
            "CommandSupport", "Experiment", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "synmix-bench", dependencies: [
            "SynmixCore", "SynmixFormats", "CImageShim", "Evaluation", "Network", "ShardData", "TrainShards", "COpenBLAS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .target(name: "TestSupport", dependencies: ["SynmixFormats", "SynmixCore"], path: "Tests/TestSupport"),
        .testTarget(name: "SynmixCoreTests", dependencies: ["SynmixFormats", "SynmixCore", "TestSupport"]),
        .testTarget(name: "HarmonizeTests", dependencies: ["SynmixFormats", "TestSupport", "Harmonize", "SynmixGenerate"]),
        .testTarget(name: "PackMixTests", dependencies: ["SynmixFormats", "TestSupport", "PackMix", "Harmonize", "SynmixGenerate"]),
        .testTarget(name: "EvaluationTests", dependencies: ["SynmixFormats", "TestSupport", "Evaluation", "CityscapesLabels"]),
        .testTarget(name: "CorruptionMatrixTests", dependencies: ["SynmixFormats", 
            "TestSupport", "SynmixCore", "Harmonize", "FilterInstances", "PackMix", "ShardData", "Evaluation",
            "CocoExport", "Network", "TrainShards", "Experiment",
        ]),
        .testTarget(name: "FuzzTests", dependencies: ["SynmixFormats", "TestSupport", "SynmixCore", "Evaluation", "Harmonize", "ShardData", "Network", "PackMix"]),
        .testTarget(name: "NetworkTests", dependencies: ["TestSupport", "Network"]),
        .testTarget(name: "ShardDataTests", dependencies: ["SynmixFormats", "TestSupport", "ShardData"]),
        .testTarget(name: "TrainShardsTests", dependencies: ["SynmixFormats", "TestSupport", "Network", "ShardData", "TrainShards", "Harmonize", "PackMix"]),
        .testTarget(name: "ExperimentTests", dependencies: ["SynmixFormats", 
            "TestSupport", "Experiment", "TrainShards", "Harmonize", "FilterInstances", "PackMix", "Evaluation", "SynmixGenerate",
            "CommandSupport",
        ]),
        .testTarget(name: "FilterInstancesTests", dependencies: ["SynmixFormats", "TestSupport", "FilterInstances", "Harmonize", "SynmixGenerate"]),
    ]
)
