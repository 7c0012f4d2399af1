"""Training loops: the VAE stage and the denoiser (teacher) stage, on HF accelerate."""
