"""``mobilevid``: the single entry point.

Exit codes: 0 success; 1 a user error (missing file, bad config, bad value), printed as one
line with no traceback (``--debug`` shows it); 2 a usage error (unknown command or flag).
Third-party libraries' logs and warnings are hidden unless ``--verbose`` (or ``--debug``) is given.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence

from mobilevid import __version__
from mobilevid.errors import MobilevidError

# Each command module exposes ``add_parser(subparsers)`` and sets ``func`` on its parser.
COMMAND_MODULES = ("info", "inflate", "train", "search", "distill", "prune", "generate", "eval", "export", "golden", "profile")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (not usage + error) and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def quiet_third_party() -> None:
    """Third-party chatter (deprecations, torchao notices, weight-loading bars, the ONNX exporter's
    optimizer passes: about 680 INFO/WARNING lines per export) is noise for users."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="torch")
    for name in ("torch.utils._pytree", "torch.onnx", "torch.export", "torch._dynamo", "torchao", "diffusers",
                 "transformers", "accelerate", "onnxscript", "onnx_ir", "coremltools", "executorch"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="mobilevid",
        description="Text-to-video diffusion for phones: build, train, search, distil, export and profile.",
    )
    parser.add_argument("--version", action="version", version=f"mobilevid {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    parser.add_argument("--verbose", action="store_true",
                        help="show third-party libraries' logs and warnings (hidden by default)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"mobilevid.cli.{name}").add_parser(subparsers)
    return parser


def close_progress_bars() -> None:
    """Close the progress bars an error left open: the message then starts a line of its own."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not (args.debug or args.verbose):
        quiet_third_party()
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MobilevidError as err:
        if args.debug:
            raise
        close_progress_bars()
        print(f"mobilevid {args.command}: error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except KeyboardInterrupt:
        print(f"mobilevid {args.command}: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
