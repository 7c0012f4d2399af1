import subprocess

import torch

from mobilevid.artifacts import temp_sibling
from mobilevid.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _named_for(path, pid):
    """The hidden temporary name a write of ``path`` by process ``pid`` uses."""
    parts = temp_sibling(path).name.rsplit("-", 2)  # ... -HOST, PID, RAND
    parts[1] = str(pid)
    return path.parent / "-".join(parts)


def test_next_checkpoint_removes_killed_checkpoint_writes_and_keeps_live_ones(tmp_path):
    root = tmp_path / "checkpoints"
    root.mkdir()
    killed = _named_for(root / "step-0000500", _dead_pid())  # killed while writing step 500
    live = temp_sibling(root / "step-0000750")  # still being written (this process is alive)
    other = _named_for(tmp_path / "checkpoints" / "notes", _dead_pid())  # not a checkpoint's
    for p in (killed, live, other):
        p.mkdir()
        (p / "model.safetensors").write_bytes(b"partial")
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    save_checkpoint(root, 1000, {"model": model}, {"model": optimizer})
    assert not killed.exists() and live.is_dir() and other.is_dir()
    assert latest_checkpoint(root) == root / "step-0001000"
    # A resumed run that writes the same step again replaces its own checkpoint.
    save_checkpoint(root, 1000, {"model": model}, {"model": optimizer}, extra={"note": "again"})
    step, _, state = load_checkpoint(root / "step-0001000", {"model": model}, {"model": optimizer})
    assert step == 1000 and state["note"] == "again"
