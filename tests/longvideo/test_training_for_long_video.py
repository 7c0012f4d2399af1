"""Training for what long-video inference asks: per-frame noise levels, and an honest record of it."""

import json

import torch

from mobilevid.cli.main import main
from mobilevid.training.train import per_frame_times
from mobilevid.training.train_config import DenoiserStageConfig


def test_per_frame_times_share():
    t = torch.tensor([0.3, 0.6, 0.9, 0.1] * 8)
    same = per_frame_times(t, 5, DenoiserStageConfig(per_frame_time_prob=0.0), 0, 0, 0)
    assert torch.equal(same, t[:, None].expand(-1, 5))
    mixed = per_frame_times(t, 5, DenoiserStageConfig(per_frame_time_prob=0.5), 0, 0, 0)
    distinct = (mixed.max(dim=1).values - mixed.min(dim=1).values) > 0
    assert 0 < int(distinct.sum()) < len(t)  # some clips get a time per frame, the others keep one time
    assert torch.equal(mixed[~distinct], same[~distinct])
    assert bool(((mixed > 0) & (mixed < 1)).all())


def test_training_records_what_it_trained_for(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--output", str(out), "--preset", "tiny", "--data", "shapes", "--stage", "denoiser",
                 "--set", "num_frames=4", "--set", "denoiser.batch_size=1", "--set", "denoiser.warmup_steps=1",
                 "--set", "denoiser.per_frame_time_prob=0.5", "--max-steps", "1"]) == 0
    trained = json.loads((out / "model" / "model_index.json").read_text())["trained_for"]
    assert trained["per_frame_times"] is True
    assert trained["visual_condition"] is True  # the default visual_condition_prob is 0.1


def test_long_clips_train_at_their_stride_and_the_model_records_the_strides(tmp_path):
    from mobilevid.data import collate
    from mobilevid.data.long_clips import LongClipDataset
    from mobilevid.training.train import batch_fps

    batch = collate([LongClipDataset("shapes", num_frames=4)[i] for i in range(6)])
    assert torch.equal(batch_fps(batch, 8.0), 8.0 / batch["stride"].float())  # fps conditioning carries the stride
    assert set(batch["stride"].tolist()) > {1}
    out = tmp_path / "run"
    assert main(["train", "--output", str(out), "--preset", "tiny", "--data", "long-shapes+shapes", "--stage",
                 "denoiser", "--set", "num_frames=4", "--set", "denoiser.batch_size=2", "--set",
                 "denoiser.warmup_steps=1", "--set", "denoiser.image_ratio=0", "--set",
                 "frame_text_conditioning=true", "--max-steps", "2"]) == 0  # per-frame captions reach the model
    trained = json.loads((out / "model" / "model_index.json").read_text())["trained_for"]
    assert trained["frame_strides"] == [1, 15, 225]
