// Python twin: mobilevid/sampling.py latents_to_pixels + pixels_to_uint8 (and mobilevid/video_io.py
// to_uint8, which lays the frames out as (F, H, W, 3)); here each frame is RGBA8 for CGImage/AVFoundation.
import Foundation

/// One video frame: `width * height` pixels of 8-bit R, G, B, A (alpha always 255), row by row.
public struct RGBAFrame: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var bytes: [UInt8]

    public init(width: Int, height: Int, bytes: [UInt8]) {
        precondition(bytes.count == width * height * 4, "an RGBA frame of \(width)x\(height) needs \(width * height * 4) bytes")
        self.width = width
        self.height = height
        self.bytes = bytes
    }
}

/// The VAE decoder's output (1, F, 3, H, W), about [-1, 1] -> RGBA8 frames, exactly as Python maps it.
public enum FrameConverter {
    /// - Throws: `MobileVidError.wrongShape` when `decoded` is not (1, F, 3, H, W).
    public static func frames(fromDecoderOutput decoded: Tensor) throws -> [RGBAFrame] {
        let shape = decoded.shape
        guard shape.count == 5, shape[0] == 1, shape[2] == 3 else {
            throw MobileVidError.wrongShape(what: "the VAE decoder output", expected: [1, -1, 3, -1, -1], got: shape)
        }
        let (frameCount, height, width) = (shape[1], shape[3], shape[4])
        let plane = height * width
        let values = pixelsToUInt8(latentsToPixels(decoded.scalars))
        return (0..<frameCount).map { f in
            var bytes = [UInt8](repeating: 255, count: plane * 4)
            let base = f * 3 * plane
            for p in 0..<plane {
                bytes[4 * p] = values[base + p]
                bytes[4 * p + 1] = values[base + plane + p]
                bytes[4 * p + 2] = values[base + 2 * plane + p]
            }
            return RGBAFrame(width: width, height: height, bytes: bytes)
        }
    }
}
