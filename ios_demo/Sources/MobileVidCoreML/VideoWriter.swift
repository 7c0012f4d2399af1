// Python twin: mobilevid/video_io.py write_video (frames -> H.264 MP4). Apple systems only (AVFoundation);
// NOT compiled or run on the Linux machines that test this package.
#if canImport(AVFoundation) && canImport(CoreVideo)
import AVFoundation
import CoreVideo
import Foundation
import MobileVidCore

public enum VideoWriter {
    /// Writes RGBA8 frames as an H.264 MP4 at `fps`, replacing nothing: an existing file is an error.
    public static func writeMP4(_ frames: [RGBAFrame], fps: Double, to url: URL) throws {
        guard let first = frames.first else { throw MobileVidError.invalidArgument("no frames to write") }
        guard !FileManager.default.fileExists(atPath: url.path) else {
            throw MobileVidError.invalidArgument("\(url.path) exists; choose another file name")
        }
        let writer = try AVAssetWriter(outputURL: url, fileType: .mp4)
        let settings: [String: Any] = [AVVideoCodecKey: AVVideoCodecType.h264, AVVideoWidthKey: first.width,
                                       AVVideoHeightKey: first.height]
        let input = AVAssetWriterInput(mediaType: .video, outputSettings: settings)
        input.expectsMediaDataInRealTime = false
        let adaptor = AVAssetWriterInputPixelBufferAdaptor(
            assetWriterInput: input,
            sourcePixelBufferAttributes: [kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_32BGRA,
                                          kCVPixelBufferWidthKey as String: first.width,
                                          kCVPixelBufferHeightKey as String: first.height])
        writer.add(input)
        guard writer.startWriting() else {
            throw MobileVidError.invalidArgument("cannot write \(url.path): \(writer.error?.localizedDescription ?? "unknown error")")
        }
        writer.startSession(atSourceTime: .zero)
        let timescale: CMTimeScale = 600
        for (i, frame) in frames.enumerated() {
            while !input.isReadyForMoreMediaData { Thread.sleep(forTimeInterval: 0.005) }
            let buffer = try pixelBuffer(frame, pool: adaptor.pixelBufferPool)
            let time = CMTime(value: CMTimeValue(Double(i) * Double(timescale) / fps), timescale: timescale)
            guard adaptor.append(buffer, withPresentationTime: time) else {
                throw MobileVidError.invalidArgument("writing frame \(i) failed: \(writer.error?.localizedDescription ?? "unknown error")")
            }
        }
        input.markAsFinished()
        let done = DispatchSemaphore(value: 0)
        writer.finishWriting { done.signal() }
        done.wait()
        if writer.status != .completed {
            throw MobileVidError.invalidArgument("writing \(url.path) failed: \(writer.error?.localizedDescription ?? "unknown error")")
        }
    }

    /// RGBA bytes -> a BGRA pixel buffer (the layout H.264 encoders take).
    static func pixelBuffer(_ frame: RGBAFrame, pool: CVPixelBufferPool?) throws -> CVPixelBuffer {
        var made: CVPixelBuffer?
        if let pool {
            CVPixelBufferPoolCreatePixelBuffer(nil, pool, &made)
        } else {
            CVPixelBufferCreate(nil, frame.width, frame.height, kCVPixelFormatType_32BGRA, nil, &made)
        }
        guard let buffer = made else { throw MobileVidError.invalidArgument("cannot allocate a video frame") }
        CVPixelBufferLockBaseAddress(buffer, [])
        defer { CVPixelBufferUnlockBaseAddress(buffer, []) }
        let base = CVPixelBufferGetBaseAddress(buffer)!.assumingMemoryBound(to: UInt8.self)
        let stride = CVPixelBufferGetBytesPerRow(buffer)
        for y in 0..<frame.height {
            for x in 0..<frame.width {
                let source = 4 * (y * frame.width + x)
                let target = y * stride + 4 * x
                base[target] = frame.bytes[source + 2]
                base[target + 1] = frame.bytes[source + 1]
                base[target + 2] = frame.bytes[source]
                base[target + 3] = 255
            }
        }
        return buffer
    }
}
#endif
