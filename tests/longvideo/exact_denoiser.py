"""An exact analytic denoiser for a known clip: the prompt "frame k" names frame k of the clip.

With x = (1 - s) * x0 + s * eps on the rectified-flow path, the true velocity is
``eps - x0 = (x - x0) / s`` for any x, so a sampler that puts every frame at the level it
claims, with the prompt of the frame it becomes, returns the clip exactly.
"""

import torch


def frame_prompt(k: int) -> str:
    return f"frame {k}"


class ExactDenoiser:
    def __init__(self, clip: torch.Tensor) -> None:
        self.clip = clip  # (N, C, H, W)
        self.calls = []  # one dict per call: what it was given

    def target(self, prompts) -> torch.Tensor:
        ids = [[min(int(p.split()[1]), len(self.clip) - 1) for p in row] for row in prompts]
        return self.clip[torch.tensor(ids)]

    def __call__(self, x, sigma, prompts, cond=None, cond_mask=None, fps=None):
        self.calls.append({"batch": x.shape[0], "frames": x.shape[1], "sigma": sigma.clone(),
                           "prompts": [list(r) for r in prompts],
                           "cond": None if cond is None else cond.clone(),
                           "cond_mask": None if cond_mask is None else cond_mask.clone(),
                           "fps": None if fps is None else fps.clone()})
        x0 = self.target(prompts)
        s = sigma.reshape(*sigma.shape, 1, 1, 1)
        return torch.where(s > 0, (x - x0) / s.clamp(min=1e-12), torch.zeros_like(x))


def known_clip(frames: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(frames, 2, 2, 2, generator=torch.Generator().manual_seed(seed))
