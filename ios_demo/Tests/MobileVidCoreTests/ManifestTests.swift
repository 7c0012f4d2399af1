// Python twin: tests/export/test_manifest.py (mobilevid/export/manifest.py: schema v2, strict keys and types,
// the contract checks, the files). Fixtures/manifest.json is the manifest of a real ONNX export of the
// unpruned 4-step student, the built-in default model before pruning (mobilevid export --target onnx).
import XCTest
@testable import MobileVidCore

final class ManifestTests: XCTestCase {
    static func sampleJSON() throws -> [String: Any] {
        try XCTUnwrap(Fixtures.json("manifest.json") as? [String: Any])
    }

    static func sampleManifest() throws -> BundleManifest {
        try BundleManifest.parse(Fixtures.data("manifest.json"))
    }

    /// A bundle folder holding `json` as its manifest and an empty file for every file it lists.
    func makeBundle(_ json: [String: Any], skipping: String? = nil) throws -> URL {
        let folder = try temporaryFolder(self)
        let data = try JSONSerialization.data(withJSONObject: json)
        try data.write(to: folder.appendingPathComponent("manifest.json"))
        let manifest = try BundleManifest.parse(data)
        let files = manifest.components.values.flatMap(\.files) + manifest.tokenizer.files
        for file in files where file != skipping {
            let url = folder.appendingPathComponent(file)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data().write(to: url)
        }
        return folder
    }

    func error(of json: [String: Any]) -> String {
        do {
            _ = try BundleManifest.parse(JSONSerialization.data(withJSONObject: json))
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testRealManifestReads() throws {
        let manifest = try Self.sampleManifest()
        XCTAssertEqual(manifest.schemaVersion, 2)
        XCTAssertEqual(manifest.latentShape, [1] + manifest.noise.shape)
        XCTAssertEqual(manifest.sigmas.count, manifest.sampler.steps + 1)
        XCTAssertEqual(manifest.sigmas.last, 0)
        let bundle = try makeBundle(Self.sampleJSON())
        XCTAssertNoThrow(try BundleManifest.load(bundle: bundle))
    }

    func testAnotherSchemaVersionIsRefused() throws {
        var json = try Self.sampleJSON()
        json["schema_version"] = 3
        let message = error(of: json)
        XCTAssertTrue(message.contains("unsupported schema 'mobilevid.bundle' version 3"), message)
        XCTAssertFalse(message.contains("\n"))
    }

    func testMissingFileIsNamed() throws {
        let json = try Self.sampleJSON()
        let manifest = try Self.sampleManifest()
        let file = manifest.components["denoiser"]!.files[0]
        let bundle = try makeBundle(json, skipping: file)
        XCTAssertThrowsError(try BundleManifest.load(bundle: bundle)) { error in
            guard case MobileVidError.missingFile = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("denoiser file \(file)"), "\(error)")
        }
    }

    func testWrongShapeIsNamed() throws {
        var json = try Self.sampleJSON()
        var components = json["components"] as! [String: Any]
        var denoiser = components["denoiser"] as! [String: Any]
        var inputs = denoiser["inputs"] as! [[String: Any]]
        inputs[0]["shape"] = [1, 2, 3]
        denoiser["inputs"] = inputs
        components["denoiser"] = denoiser
        json["components"] = components
        XCTAssertThrowsError(try BundleManifest.parse(JSONSerialization.data(withJSONObject: json))) { error in
            guard case MobileVidError.wrongShape = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("[1, 2, 3]"), "\(error)")
        }
    }

    func testStrictKeysAndTypes() throws {
        var json = try Self.sampleJSON()
        var video = json["video"] as! [String: Any]
        video["colour"] = "red"
        json["video"] = video
        XCTAssertTrue(error(of: json).contains("unknown manifest key video.colour"), error(of: json))

        json = try Self.sampleJSON()
        var sampler = json["sampler"] as! [String: Any]
        sampler.removeValue(forKey: "steps")
        json["sampler"] = sampler
        XCTAssertTrue(error(of: json).contains("sampler.steps is missing"), error(of: json))

        sampler["steps"] = "four"
        json["sampler"] = sampler
        XCTAssertTrue(error(of: json).contains("sampler.steps must be of type"), error(of: json))

        json = try Self.sampleJSON()
        sampler = json["sampler"] as! [String: Any]
        sampler["sigmas"] = [0.5, 0.9, 0.75, 0.5, 0]
        json["sampler"] = sampler
        XCTAssertTrue(error(of: json).contains("decrease to 0"), error(of: json))
    }

    func testFileOutsideTheBundleIsRefused() throws {
        var json = try Self.sampleJSON()
        let folder = try makeBundle(json)  // every listed file exists; then one entry points out of the folder
        var tokenizer = json["tokenizer"] as! [String: Any]
        tokenizer["files"] = ["../outside.txt"]
        json["tokenizer"] = tokenizer
        try JSONSerialization.data(withJSONObject: json).write(to: folder.appendingPathComponent("manifest.json"))
        XCTAssertThrowsError(try BundleManifest.load(bundle: folder)) { error in
            XCTAssertTrue("\(error)".contains("outside the bundle"), "\(error)")
        }
    }

    func testNotABundle() throws {
        let folder = try temporaryFolder(self)
        XCTAssertThrowsError(try BundleManifest.load(bundle: folder)) { XCTAssertTrue("\($0)".contains("manifest.json")) }
    }
}
