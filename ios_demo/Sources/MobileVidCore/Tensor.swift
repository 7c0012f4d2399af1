// Python twin: torch.Tensor as the sampler uses it (mobilevid/sampling.py): a dense float32 array, row-major.
import Foundation

/// A dense, row-major float32 tensor: all the sampler and the frame converter need.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var scalars: [Float]

    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) values")
        self.shape = shape
        self.scalars = scalars
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    public var count: Int { scalars.count }

    /// The largest absolute difference to `other` (same shape required).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "shapes \(shape) and \(other.shape) differ")
        var worst: Float = 0
        for i in scalars.indices {
            let d = abs(scalars[i] - other.scalars[i])
            if d > worst || d.isNaN { worst = d.isNaN ? .infinity : d }
        }
        return worst
    }

    /// The same values seen with another shape of the same size.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }
}
