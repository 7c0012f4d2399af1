import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from mobilevid.artifacts import atomic_dir, load_module_weights, read_artifact, write_artifact
from mobilevid.errors import MobilevidError


def _write(path):
    return write_artifact(path, {"dim": 3}, {"model.safetensors": {"w": torch.ones(3, 2)}})


def test_roundtrip(tmp_path):
    _write(tmp_path / "a")
    config, tensors = read_artifact(tmp_path / "a")
    assert config == {"dim": 3}
    assert torch.equal(tensors["model.safetensors"]["w"], torch.ones(3, 2))


def test_exception_mid_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "a") as tmp:
            (tmp / "config.json").write_text("{}")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_crash_mid_write_leaves_nothing_loadable(tmp_path):
    # A real crash: the process dies (os._exit, no cleanup) after writing config.json but before the weights.
    script = textwrap.dedent(f"""
        import os, torch
        from mobilevid.artifacts import atomic_dir, write_json
        with atomic_dir({str(tmp_path / 'a')!r}) as tmp:
            write_json(tmp / 'config.json', {{'dim': 3}})
            os._exit(9)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ})
    assert proc.returncode == 9
    assert not (tmp_path / "a").exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert leftovers and all(name.startswith(".a.tmp-") for name in leftovers)
    with pytest.raises(MobilevidError, match="artifact folder not found"):
        read_artifact(tmp_path / "a")


def test_crash_during_overwrite_keeps_old_artifact(tmp_path):
    _write(tmp_path / "a")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "a") as tmp:
            (tmp / "config.json").write_text("{\"dim\": 99}")
            raise RuntimeError("boom")
    assert read_artifact(tmp_path / "a")[0] == {"dim": 3}


def test_missing_config_is_one_line_error(tmp_path):
    _write(tmp_path / "a")
    (tmp_path / "a" / "config.json").unlink()
    with pytest.raises(MobilevidError, match=r"missing config.json in .*a$") as err:
        read_artifact(tmp_path / "a")
    assert "\n" not in str(err.value)


def test_corrupt_safetensors_is_one_line_error(tmp_path):
    _write(tmp_path / "a")
    path = tmp_path / "a" / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:20] + b"garbage" * 3)
    with pytest.raises(MobilevidError, match="corrupt safetensors file") as err:
        read_artifact(tmp_path / "a")
    assert "\n" not in str(err.value)


def test_shape_mismatch_is_one_line_error(tmp_path):
    _write(tmp_path / "a")
    module = nn.Module()
    module.w = nn.Parameter(torch.zeros(3, 4))
    with pytest.raises(MobilevidError, match=r"tensor 'w' has shape \(3, 2\), the config expects \(3, 4\)") as err:
        load_module_weights(module, tmp_path / "a" / "model.safetensors")
    assert "\n" not in str(err.value)


def test_saved_weights_follow_the_umask(tmp_path):
    import os

    import torch

    from mobilevid.artifacts import save_tensors

    old = os.umask(0o022)
    try:
        save_tensors({"w": torch.zeros(2)}, tmp_path / "w.safetensors")
    finally:
        os.umask(old)
    assert (tmp_path / "w.safetensors").stat().st_mode & 0o777 == 0o644
