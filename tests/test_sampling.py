"""Samplers: Euler for teachers, x0 + fresh noise for distilled students (ADD)."""

import torch

from mobilevid.sampling import sample_flow_euler, sample_x0_renoise, shift_sigmas, unshift_sigma


def test_both_samplers_land_on_the_clean_sample_of_an_exact_model():
    target = torch.randn(2, 3, 4, 5, 5)
    sigmas = torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0])

    def exact(x, t):  # the velocity that points every x_t at ``target``
        return (x - target) / (t / 1000).reshape(-1, 1, 1, 1, 1)

    noise = torch.randn_like(target)
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    assert torch.allclose(sample_flow_euler(exact, noise, sigmas), target, atol=1e-5)
    assert torch.allclose(sample_x0_renoise(exact, noise, sigmas, gens), target, atol=1e-5)


def test_renoise_draws_fresh_noise_per_sample_independently_of_the_batch():
    sigmas = torch.tensor([1.0, 0.5, 0.0])

    def identity(x, t):  # x0 = x - sigma * 0: the input itself
        return torch.zeros_like(x)

    noise = torch.randn(2, 1, 2, 3, 3)
    both = sample_x0_renoise(identity, noise, sigmas, [torch.Generator().manual_seed(s) for s in (7, 8)])
    alone = sample_x0_renoise(identity, noise[1:], sigmas, [torch.Generator().manual_seed(8)])
    assert torch.equal(both[1:], alone)
    fresh = torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(8))
    assert torch.allclose(alone[0], 0.5 * noise[1] + 0.5 * fresh)
    assert not torch.allclose(alone, sample_flow_euler(identity, noise[1:], sigmas))


def test_shift_roundtrip():
    s = shift_sigmas(torch.tensor([0.25, 0.5, 0.75]), 3.0)
    assert torch.allclose(s, torch.tensor([0.5, 0.75, 0.9]))
    assert abs(unshift_sigma(0.75, 3.0) - 0.5) < 1e-9
