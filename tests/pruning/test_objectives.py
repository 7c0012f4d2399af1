"""Denoiser recovery on the student's own trajectory: the inputs are the states its sampler visits."""

import torch

from mobilevid.pipeline import Pipeline
from mobilevid.pruning.objectives import DenoiserMatching
from mobilevid.pruning.prune_config import RecoverConfig

LEVELS = [1.0, 0.75, 0.5, 0.25]


def test_trajectory_inputs_are_the_states_the_students_pipeline_visits(tiny_model_dir):
    pipe = Pipeline.from_pretrained(tiny_model_dir)
    pipe.fixed_sigmas = LEVELS  # the tiny model sampled as a 4-level student
    cfg = RecoverConfig(batch_size=4, trajectory_prob=0.75, caption_dropout=0.0)
    objective = DenoiserMatching(pipe.denoiser, pipe.vae, pipe.config, LEVELS, "shapes", cfg, seed=0)
    step = next(s for s in range(50) if any(k >= 2 for _, k, _ in objective.trajectory_plan(4, s)))
    plan = objective.trajectory_plan(4, step)
    captions = objective.batches(step)["caption"]
    states, pooled, mask = objective.text(captions)
    with torch.no_grad():
        x_t = pipe.vae.encode(objective.batches(step)["video"])
    t = torch.full((4,), 0.5)
    kwargs = {"encoder_attention_mask": mask, "pooled_text": pooled, "fps": torch.full((4,), float(pipe.config.fps))}
    with torch.no_grad():
        swapped, times = objective.on_trajectory(x_t, t, states, kwargs, step)
    inputs: list[torch.Tensor] = []
    hook = pipe.denoiser.register_forward_pre_hook(lambda _, args: inputs.append(args[0].clone()))
    try:
        for i, level, seed in plan:
            inputs.clear()
            pipe(captions[i], guidance_scale=1.0, seed=seed)  # what a user's call samples; the student meets inputs[level] at that level
            assert torch.allclose(swapped[i], inputs[level][0], atol=1e-5), (i, level)
            assert float(times[i]) == LEVELS[level]
    finally:
        hook.remove()
    others = [i for i in range(4) if i not in {i for i, _, _ in plan}]
    for i in others:  # the rest keep their noised real clip
        assert torch.equal(swapped[i], x_t[i]) and float(times[i]) == 0.5
