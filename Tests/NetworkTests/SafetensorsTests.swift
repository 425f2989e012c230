import Foundation
import XCTest
@testable import Network
import SynmixCore
import TestSupport

final class SafetensorsTests: XCTestCase {
    /// What safetensors' own writer produces.
    func testFilesAreByteIdenticalToTheReferenceWriter() throws {
        let two = Safetensors.serialize(["x": .init([1, 2] as [Float], shape: [2]), "ids": .init([7] as [Int64], shape: [1])])
        XCTAssertEqual(two.count, 136)
        XCTAssertEqual(Array(two[0..<8]), [112, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(String(decoding: two[8..<120], as: UTF8.self),
                       #"{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}  "#)
        XCTAssertEqual(Array(two[120...]), [7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40])
        let withMetadata = Safetensors.serialize(["x": .init([1, 2] as [Float], shape: [2])], metadata: ["format": "pt"])
        XCTAssertEqual(withMetadata.count, 104)
        XCTAssertEqual(SHA256Hasher.hex(withMetadata), "b76af1034cf56f1eca695d8437b62d6c460fdfa5af6366bf11a1812eb73cd4e8")
    }

    func testRoundTripAndValidation() throws {
        let weights = Safetensors.Tensor((0..<24).map { Float($0) / 7 }, shape: [2, 3, 2, 2])
        let file = Safetensors.serialize(["stem.0.conv.weight": weights, "empty": .init([Float](), shape: [0])], metadata: ["synmix.version": "0.1.0"])
        let (tensors, metadata) = try Safetensors.parse(file)
        XCTAssertEqual(tensors["stem.0.conv.weight"], weights)
        XCTAssertEqual(tensors["stem.0.conv.weight"]?.floats[7], 1)
        XCTAssertEqual(metadata, ["synmix.version": "0.1.0"])
        XCTAssertThrowsError(try Safetensors.parse(file + [0])) { XCTAssertEqual("\($0)", "invalid safetensors file: incomplete metadata, file not fully covered") }
        XCTAssertThrowsError(try Safetensors.parse(Array(file.prefix(6)))) { XCTAssertEqual("\($0)", "invalid safetensors file: header too small") }
        XCTAssertThrowsError(try Safetensors.parse(Array(file.dropLast(4))))
    }

    func testPythonSafetensorsReadsOurFiles() throws {
        guard let python = interopPython else { throw XCTSkip(interopSkipReason) }
        let folder = try temporaryFolder()
        let values = (0..<12).map { Float($0) * 0.5 - 1 }
        try Files.writeAtomically(Safetensors.serialize(["head.weight": .init(values, shape: [3, 4]), "step": .init([42] as [Int64], shape: [1])],
                                                        metadata: ["synmix.config": "{\"width\":16}"]), to: "\(folder)/model.safetensors")
        let script = """
            import json
            from safetensors import safe_open
            from safetensors.numpy import load_file
            t = load_file('\(folder)/model.safetensors')
            with safe_open('\(folder)/model.safetensors', framework='np') as f: meta = f.metadata()
            print(json.dumps({'shape': list(t['head.weight'].shape), 'dtype': str(t['head.weight'].dtype),
                              'values': [float(v) for v in t['head.weight'].reshape(-1)], 'step': int(t['step'][0]), 'meta': meta}))
            """
        let (status, output) = try runProgram(python, ["-c", script])
        XCTAssertEqual(status, 0)
        let result = try JSON.parse(output[...])
        XCTAssertEqual(result["shape"]?.arrayValue?.map { $0.intValue! }, [3, 4])
        XCTAssertEqual(result["dtype"]?.stringValue, "float32")
        XCTAssertEqual(result["values"]?.arrayValue?.map { Float($0.doubleValue!) }, values)
        XCTAssertEqual(result["step"]?.intValue, 42)
        XCTAssertEqual(result["meta"]?["synmix.config"]?.stringValue, "{\"width\":16}")
    }
}
