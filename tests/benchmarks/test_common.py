"""Every results file says which code and which model it measured."""

import json
import re
import subprocess

import pytest

from _common import REPO, RESULTS_DIR, write_results

HEX64 = re.compile(r"[0-9a-f]{64}")


def test_results_record_the_commit_and_each_models_hash(tmp_path):
    path = write_results("probe", [{"x": 1}], output=tmp_path / "probe.json",
                         models={"student": "default", "layers": None})
    data = json.loads(path.read_text())
    # The commit the run started on: HEAD, or an ancestor of it when someone committed since.
    ancestor = subprocess.run(["git", "-C", str(REPO), "merge-base", "--is-ancestor", data["commit"], "HEAD"])
    assert re.fullmatch(r"[0-9a-f]{40}", data["commit"]) and ancestor.returncode == 0
    assert isinstance(data["dirty"], bool)
    assert HEX64.fullmatch(data["models"]["student"]["sha256"])
    assert data["models"]["layers"] == {"model": "random weights", "path": None, "sha256": None}
    assert data["rows"] == [{"x": 1}]


def test_a_changed_model_has_another_hash(tmp_path):
    import shutil

    from mobilevid.pipeline import resolve_model_dir

    copy = tmp_path / "model"
    shutil.copytree(resolve_model_dir("default"), copy)
    before = write_results("a", [], output=tmp_path / "a.json", models={"m": copy})
    (copy / "scheduler" / "scheduler_config.json").write_text("{}")
    after = write_results("b", [], output=tmp_path / "b.json", models={"m": copy})
    hashes = [json.loads(p.read_text())["models"]["m"]["sha256"] for p in (before, after)]
    assert hashes[0] != hashes[1]


@pytest.mark.parametrize("path", sorted(RESULTS_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_committed_result_names_its_commit_and_models(path):
    data = json.loads(path.read_text())
    assert re.fullmatch(r"[0-9a-f]{40}", data.get("commit") or ""), f"{path.name}: no commit"
    assert data.get("models"), f"{path.name}: no models"
    for label, model in data["models"].items():
        assert model["sha256"] is None or HEX64.fullmatch(model["sha256"]), (path.name, label)
