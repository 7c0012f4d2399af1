"""pyproject.toml declares exactly the third-party packages the library imports."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Declared but reached only through another library, with the reason.
INDIRECT = {
    "torchvision": "pinned with torch; diffusers and transformers import it when present",
    "onnxscript": "torch.onnx's dynamo exporter",
    "tensorboard": "accelerate's log_with='tensorboard'",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_canonical(re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0]) for req in project["dependencies"]}


def _imported() -> set[str]:
    modules = set()
    for path in (ROOT / "mobilevid").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | {"mobilevid", "__future__"}
    dists = packages_distributions()
    return {_canonical(dist) for module in modules for dist in dists.get(module, [module])}


def test_every_imported_package_is_declared():
    assert _imported() - _declared() == set()


def test_every_declared_package_is_imported_or_says_why():
    assert _declared() - _imported() - set(INDIRECT) == set()
