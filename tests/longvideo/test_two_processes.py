"""The windows of a FIFO iteration and the local calls of a NUWA-XL level shared by 2 CPU processes (gloo)."""

import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from mobilevid.cli.main import main


def _pixels(path):
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.mark.slow
def test_two_processes_make_the_one_process_video(infilling_model_dir, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    common = ["--model", str(infilling_model_dir), "--guidance", "1"]
    assert main(["generate", "a red circle", *common, "--frames", "10", "--partitions", "1",
                 "-o", str(one / "fifo.mp4")]) == 0
    assert main(["generate", "a red circle", *common, "--frames", "13", "--long", "nuwa", "--steps", "2",
                 "-o", str(one / "nuwa.mp4")]) == 0
    script = Path(__file__).with_name("two_process_generate.py")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29547",
           str(script), str(infilling_model_dir), str(two)]
    result = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    # Splitting a level's batch across processes changes the batch size each convolution sees, and
    # oneDNN may then sum in another order: the latents agree to float rounding, not always to the bit,
    # and the H.264 encoder can turn a one-level pixel change into small changes around it. A wrong
    # split (frames swapped, a window missed) costs far more than 40 dB.
    for name in ("fifo.mp4", "nuwa.mp4"):
        a, b = _pixels(one / name).astype(np.float64), _pixels(two / name).astype(np.float64)
        assert a.shape == b.shape, name
        mse = float(((a - b) ** 2).mean())
        assert mse == 0.0 or 10 * np.log10(255.0**2 / mse) >= 40.0, (name, mse)
