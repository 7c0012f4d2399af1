import os
import subprocess
import sys
import textwrap
import time

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


def test_crash_mid_write_leaves_nothing_loadable_and_the_retry_cleans_up(tmp_path):
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
    _write(tmp_path / "a")  # the retry removes the killed write's temporary folder
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_crash_during_overwrite_keeps_old_artifact(tmp_path):
    _write(tmp_path / "a")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "a", overwrite=True) as tmp:
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


# -- what an existing output may be -----------------------------------------------------------------

def test_existing_folder_is_refused_by_default_and_kept(tmp_path):
    user = tmp_path / "a"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(MobilevidError, match="exists and is not a artifact"):
        _write(user)
    _write(tmp_path / "b")
    with pytest.raises(MobilevidError, match="already exists: pass --overwrite"):
        _write(tmp_path / "b")
    assert (user / "notes.txt").read_text() == "mine"


def test_overwrite_replaces_only_a_folder_of_the_same_kind(tmp_path):
    _write(tmp_path / "a")
    write_artifact(tmp_path / "a", {"dim": 4}, {"model.safetensors": {"w": torch.ones(4)}}, overwrite=True)
    assert read_artifact(tmp_path / "a")[0] == {"dim": 4}
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(MobilevidError, match=r"not a artifact \(no config.json\)"):
        write_artifact(user, {"dim": 4}, {}, overwrite=True)
    with pytest.raises(MobilevidError, match="not a bundle"):  # a model is no bundle
        with atomic_dir(tmp_path / "a", overwrite=True, marker="manifest.json", what="bundle"):
            pass
    assert (user / "notes.txt").read_text() == "mine" and read_artifact(tmp_path / "a")[0] == {"dim": 4}


def test_a_file_is_never_replaced_and_an_empty_folder_is(tmp_path):
    (tmp_path / "f").write_text("mine")
    with pytest.raises(MobilevidError, match="is a file, not a artifact folder"):
        write_artifact(tmp_path / "f", {"dim": 3}, {}, overwrite=True)
    assert (tmp_path / "f").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    _write(tmp_path / "empty")
    assert read_artifact(tmp_path / "empty")[0] == {"dim": 3}


# -- leftovers of killed writes ---------------------------------------------------------------------

def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _leftover(target, role="tmp", pid=None, suffix=""):
    """What a write of ``target`` killed by a signal leaves: a hidden sibling named for its dead process."""
    from mobilevid.artifacts import temp_sibling

    name = temp_sibling(target, role, suffix).name.rsplit("-", 2)  # ... -HOST, PID, RAND
    name[1] = str(_dead_pid() if pid is None else pid)
    return target.parent / "-".join(name)


def test_a_live_or_foreign_write_is_left_alone(tmp_path):
    from mobilevid.artifacts import temp_sibling

    live = temp_sibling(tmp_path / "a")  # this process's: a write still running
    foreign = tmp_path / f".a.tmp-00000000-{_dead_pid()}-0123abcd"  # another host's: cannot tell
    other = _leftover(tmp_path / "b")  # a killed write, but of another target
    for p in (live, foreign, other):
        p.mkdir()
    _write(tmp_path / "a")
    assert live.is_dir() and foreign.is_dir() and other.is_dir()


def test_a_write_killed_between_its_renames_puts_the_old_artifact_back(tmp_path):
    _write(tmp_path / "a")
    os.rename(tmp_path / "a", _leftover(tmp_path / "a", "old"))  # the instant after the old one moved aside
    with pytest.raises(MobilevidError, match="already exists"):  # put back, so not replaced without overwrite
        _write(tmp_path / "a")
    assert read_artifact(tmp_path / "a")[0] == {"dim": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_a_killed_swap_whose_new_artifact_landed_drops_the_old_one(tmp_path):
    _write(tmp_path / "a")
    old = _leftover(tmp_path / "a", "old")
    _write(tmp_path / "x")
    os.rename(tmp_path / "x", old)
    write_artifact(tmp_path / "a", {"dim": 5}, {"model.safetensors": {"w": torch.ones(5)}}, overwrite=True)
    assert read_artifact(tmp_path / "a")[0] == {"dim": 5} and not old.exists()


def test_leftovers_of_earlier_versions_go_once_a_day_old(tmp_path):
    stale, fresh = tmp_path / ".a.tmp-0badc0de", tmp_path / ".a.tmp-00c0ffee"
    for leftover in (stale, fresh):
        leftover.mkdir()
        (leftover / "w.safetensors").write_bytes(b"x")
    day_old = time.time() - 2 * 24 * 3600
    for p in (stale / "w.safetensors", stale):
        os.utime(p, (day_old, day_old))
    _write(tmp_path / "a")
    assert not stale.exists() and fresh.is_dir()


def test_write_json_removes_a_killed_writes_temporary_file(tmp_path):
    from mobilevid.artifacts import write_json

    _leftover(tmp_path / "run.json").write_text("{")
    write_json(tmp_path / "run.json", {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
