"""Models: the video denoiser (spatial backbone + temporal slots), text encoder and VAE."""
