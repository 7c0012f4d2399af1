"""The sampler contract: Euler for teachers, x0 + fresh noise for distilled students (ADD), the noise rule."""

import pytest
import torch

from mobilevid.errors import MobilevidError
from mobilevid.sampling import (
    EULER,
    RENOISE,
    calls_per_step,
    check_finite,
    check_guidance,
    check_seed,
    combine_guidance,
    draw_noise,
    euler_step,
    latents_to_pixels,
    pixels_to_uint8,
    prompt_generators,
    renoise_step,
    sample,
    sampler_type,
    shift_sigmas,
    timesteps,
    unshift_sigma,
)


def test_both_samplers_land_on_the_clean_sample_of_an_exact_model():
    target = torch.randn(2, 3, 4, 5, 5)
    sigmas = torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0])

    def exact(x, t):  # the velocity that points every x_t at ``target``
        return (x - target) / (t / 1000).reshape(-1, 1, 1, 1, 1)

    noise = torch.randn_like(target)
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    assert torch.allclose(sample(exact, noise, sigmas, EULER), target, atol=1e-5)
    assert torch.allclose(sample(exact, noise, sigmas, RENOISE, gens), target, atol=1e-5)


def test_renoise_draws_fresh_noise_per_sample_independently_of_the_batch():
    sigmas = torch.tensor([1.0, 0.5, 0.0])

    def identity(x, t):  # x0 = x - sigma * 0: the input itself
        return torch.zeros_like(x)

    noise = torch.randn(2, 1, 2, 3, 3)
    both = sample(identity, noise, sigmas, RENOISE, [torch.Generator().manual_seed(s) for s in (7, 8)])
    alone = sample(identity, noise[1:], sigmas, RENOISE, [torch.Generator().manual_seed(8)])
    assert torch.equal(both[1:], alone)
    fresh = torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(8))
    assert torch.allclose(alone[0], 0.5 * noise[1] + 0.5 * fresh)
    assert not torch.allclose(alone, sample(identity, noise[1:], sigmas, EULER))


def test_steps_are_the_stated_float32_formulas():
    x, v, eps = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4)
    s, n = torch.tensor(0.7), torch.tensor(0.3)
    assert torch.equal(euler_step(x, v, s, n), x + (n - s) * v)
    assert torch.equal(renoise_step(x, v, s, n, eps), (1 - n) * (x - s * v) + n * eps)
    assert torch.equal(renoise_step(x, v, s, 0.0, None), x - s * v)
    per_frame = torch.tensor([0.9, 0.5, 0.1]).reshape(3, 1)  # one level per row (FIFO's per-frame levels)
    assert torch.allclose(euler_step(x, v, per_frame, per_frame - 0.1)[1], x[1] - 0.1 * v[1], atol=1e-6)
    assert torch.equal(combine_guidance(x, v, 4.0), v + 4.0 * (x - v))


def test_the_step_rule_and_its_cost():
    assert sampler_type([1.0, 0.75, 0.5, 0.25], None) == RENOISE
    assert sampler_type([1.0, 0.75, 0.5, 0.25], 4) == RENOISE
    assert sampler_type([1.0, 0.75, 0.5, 0.25], 8) == EULER
    assert sampler_type(None, 4) == EULER
    assert calls_per_step(1.0) == 1 and calls_per_step(4.0) == 2 and calls_per_step(0.0) == 2
    assert timesteps(torch.tensor([1.0, 0.5, 0.0])) == [1000.0, 500.0]


def test_the_noise_rule_is_torch_randn_per_prompt():
    gens = prompt_generators(41, 2)
    noise = draw_noise(gens, (2, 3))
    assert noise.dtype == torch.float32
    assert torch.equal(noise[1], torch.randn(2, 3, generator=torch.Generator().manual_seed(42)))
    g = torch.Generator().manual_seed(42)
    torch.randn(2, 3, generator=g)
    assert torch.equal(draw_noise(gens[1:], (5,))[0], torch.randn(5, generator=g))  # the next draw continues


def test_bad_values_are_one_line_errors():
    with pytest.raises(MobilevidError, match="finite"):
        check_guidance(float("nan"))
    with pytest.raises(MobilevidError, match="seed"):
        check_seed(2**63)
    with pytest.raises(MobilevidError, match="seed"):
        check_seed(-1)
    with pytest.raises(MobilevidError, match="step 1 of 1"):
        sample(lambda x, t: x * float("nan"), torch.ones(1, 2), torch.tensor([1.0, 0.0]), EULER)
    with pytest.raises(MobilevidError, match="decoder"):
        check_finite(torch.tensor([float("inf")]), "the VAE decoder output")


def test_pixels():
    decoded = torch.tensor([-2.0, -1.0, 0.0, 1.0 / 255, 1.0, 3.0])
    assert torch.equal(latents_to_pixels(decoded), torch.tensor([0.0, 0.0, 0.5, (1 + 1 / 255) / 2, 1.0, 1.0]))
    assert pixels_to_uint8(torch.tensor([0.0, 0.5, 1.0, 0.5 / 255])).tolist() == [0, 128, 255, 0]


def test_shift_roundtrip():
    s = shift_sigmas(torch.tensor([0.25, 0.5, 0.75]), 3.0)
    assert torch.allclose(s, torch.tensor([0.5, 0.75, 0.9]))
    assert abs(unshift_sigma(0.75, 3.0) - 0.5) < 1e-9
