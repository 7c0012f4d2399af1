// Python twin: mobilevid/export/bundle_runtime.py (its Runner: one callable per component, positional
// tensors in the manifest's input order). Here the three components behind one protocol, so the sampler and
// the generator run on any backend: Core ML (MobileVidCoreML), or a replay of recorded outputs (GoldenReplay).

/// The text encoder's outputs, as the denoiser takes them.
public struct TextConditioning: Sendable {
    /// (1, L, D) token states.
    public var states: Tensor
    /// (1, L) attention mask as floats (1 real token, 0 padding).
    public var mask: Tensor
    /// (1, D) pooled text vector.
    public var pooled: Tensor

    public init(states: Tensor, mask: Tensor, pooled: Tensor) {
        self.states = states
        self.mask = mask
        self.pooled = pooled
    }
}

/// The bundle's three components.
public enum Component: String, CaseIterable, Sendable {
    case textEncoder = "text_encoder"
    case denoiser
    case vaeDecoder = "vae_decoder"
}

/// Runs the bundle's models. A backend may load lazily; `release` lets a reduce-memory run free a model
/// as soon as the generator is done with it.
public protocol ComponentRunner: AnyObject {
    /// `text_encoder(input_ids, attention_mask) -> (text_states, pooled_text)`.
    func encodeText(ids: [Int32], attentionMask: [Int32]) throws -> TextConditioning
    /// `denoiser(sample, timestep, text_states, text_mask, pooled_text) -> velocity` (batch 1).
    func denoise(sample: Tensor, timestep: Float, text: TextConditioning) throws -> Tensor
    /// `vae_decoder(latents) -> video` (1, F, 3, H, W) in about [-1, 1].
    func decode(latents: Tensor) throws -> Tensor
    /// Load `component` now (prewarm); a no-op for backends that hold nothing.
    func load(_ component: Component) throws
    /// Free `component`'s model until it is needed again.
    func release(_ component: Component)
}

extension ComponentRunner {
    public func load(_ component: Component) throws {}
    public func release(_ component: Component) {}
}
