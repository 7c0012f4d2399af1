"""Rectified flow (Liu et al. 2022; Esser et al. 2024, SD3): the training objective of the denoiser.

``x_t = (1 - t) * x_0 + t * noise`` for t in [0, 1]; the model predicts the velocity
``v = noise - x_0``. The model's timestep input is ``1000 * t`` (diffusers' convention).

Time sampling: logit-normal, t = sigmoid(m + s * n) with n ~ N(0, 1) (SD3, sec. 3.1: it puts
more weight on the middle of the path, where the velocity is hardest to predict);
``m = 0, s = 1`` by default. Per-frame times (B, F) are supported for FIFO-style training.
"""

from __future__ import annotations

import torch

TIMESTEP_SCALE = 1000.0


def sample_times(
    batch: int, generator: torch.Generator | None = None, mean: float = 0.0, std: float = 1.0,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Logit-normal times in (0, 1), shape (batch,)."""
    n = torch.randn(batch, generator=generator, device=device)
    return torch.sigmoid(mean + std * n)


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Point on the straight path; ``t`` is (B,) or (B, F) for x0 of shape (B, F, C, H, W)."""
    t = t.reshape(*t.shape, *([1] * (x0.dim() - t.dim())))
    return (1 - t) * x0 + t * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    return noise - x0


def flow_loss(prediction: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Mean squared error between predicted and true velocity."""
    return torch.mean((prediction.float() - velocity_target(x0, noise).float()) ** 2)
