// Python twin: mobilevid/export/timing.py summarize_ms, video_total.py, device_json.py validate_profile.
import XCTest
@testable import MobileVidCore

final class LatencyReportTests: XCTestCase {
    func testPercentilesAreNumpys() {
        // numpy.median([1, 2, 3, 4, 10]) = 3, numpy.percentile(..., 90) = 7.6
        XCTAssertEqual(LatencyReport.median([4, 1, 10, 3, 2]), 3)
        XCTAssertEqual(LatencyReport.percentile([4, 1, 10, 3, 2], 90), 7.6, accuracy: 1e-12)
        XCTAssertEqual(LatencyReport.median([1, 2]), 1.5)
    }

    func testJSONHasTheProfileSchema() throws {
        var report = LatencyReport(device: .init(name: "iPhone", platform: "iOS 18", processor: "arm64", cpus: 6,
                                                 physicalMemoryMB: 8192, computeUnits: "cpuAndNeuralEngine"),
                                   bundle: "b", steps: 4, guidanceScale: 1)
        for ms in [10.0, 12, 11] { report.record("denoiser", milliseconds: ms) }
        report.record("text_encoder", milliseconds: 5)
        report.record("vae_decoder", milliseconds: 20)
        report.recordPeakMemory("denoiser", megabytes: 300)
        let object = report.jsonObject()
        XCTAssertEqual(object["schema"] as? String, "mobilevid.profile")
        XCTAssertEqual(object["schema_version"] as? Int, 1)
        let components = try XCTUnwrap(object["components"] as? [String: [String: Any]])
        XCTAssertEqual(components["denoiser"]?["median_ms"] as? Double, 11)
        XCTAssertEqual(components["denoiser"]?["calls_per_video"] as? Int, 4)
        XCTAssertEqual(components["denoiser"]?["peak_rss_mb"] as? Double, 300)
        let video = try XCTUnwrap(object["video"] as? [String: Any])
        XCTAssertEqual(video["total_ms"] as? Double, 5 + 4 * 11 + 20)
        XCTAssertNoThrow(try report.jsonData())
    }

    func testEmptyReportIsNotWritten() throws {
        let report = LatencyReport(device: .current(computeUnits: "cpuOnly"), bundle: "b", steps: 1, guidanceScale: 1)
        let folder = try temporaryFolder(self)
        XCTAssertThrowsError(try report.write(to: folder.appendingPathComponent("p.json")))
    }

    func testMemoryBudget() {
        XCTAssertTrue(MemoryBudget.recommendsReduceMemory(physicalMemory: 4 << 30))
        XCTAssertFalse(MemoryBudget.recommendsReduceMemory(physicalMemory: 8 << 30))
        let mb = 1 << 20
        XCTAssertEqual(MemoryBudget.requiredBytes(componentBytes: [100 * mb, 200 * mb], reduceMemory: true),
                       300 * mb + MemoryBudget.overheadBytes)
        XCTAssertEqual(MemoryBudget.requiredBytes(componentBytes: [100 * mb, 200 * mb], reduceMemory: false),
                       450 * mb + MemoryBudget.overheadBytes)
    }
}
