import subprocess
import sys

from mobilevid import __version__
from mobilevid.cli.main import main


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "mobilevid.cli.main", *args], capture_output=True, text=True)


def test_help_lists_commands():
    out = _cli("--help")
    assert out.returncode == 0
    assert "info" in out.stdout and "inflate" in out.stdout


def test_version(capsys):
    out = _cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"mobilevid {__version__}"


def test_unknown_command_is_one_line_exit_2():
    out = _cli("no-such-command")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_unknown_flag_is_one_line_exit_2():
    out = _cli("info", "--preset", "tiny", "--bogus")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_user_error_is_one_line_exit_1(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model folder not found" in err


def test_debug_shows_traceback(tmp_path):
    out = _cli("--debug", "info", str(tmp_path / "missing"))
    assert out.returncode != 0 and "Traceback" in out.stderr
