"""Long videos from a short-clip model: FIFO-Diffusion, NUWA-XL and an autoregressive baseline, with prompt schedules."""
