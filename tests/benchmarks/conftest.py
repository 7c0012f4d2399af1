"""The benchmark scripts import as modules: ``benchmarks/`` on the path, as when a script runs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
