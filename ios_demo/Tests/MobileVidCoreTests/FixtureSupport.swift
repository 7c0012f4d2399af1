// Shared helpers for the tests: the checked-in fixtures (written by Fixtures/make_fixtures.py from torch and
// transformers) and temporary folders.
import Foundation
import XCTest
@testable import MobileVidCore

enum Fixtures {
    static var folder: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    }

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: folder.appendingPathComponent(name))
    }

    static func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: data(name))
    }

    static func float32(_ name: String) throws -> [Float] {
        let bytes = try data(name)
        return bytes.withUnsafeBytes { buffer in
            (0..<(bytes.count / 4)).map { Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }
}

/// A fresh temporary folder, removed when the test ends.
func temporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mobilevid-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}
