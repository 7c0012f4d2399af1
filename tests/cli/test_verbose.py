"""Third-party logs are hidden by default and shown with ``--verbose``."""

import logging

import pytest

from mobilevid.cli.main import main

EXPORTER_LOGGERS = ("onnxscript", "onnx_ir")  # about 680 INFO/WARNING lines per ONNX export


@pytest.fixture
def fresh_loggers(monkeypatch):
    for name in EXPORTER_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    for key in ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(key, raising=False)  # main sets them; undone after the test


def test_exporter_logs_are_quiet_by_default(fresh_loggers):
    main([])  # no command: prints help after configuring logs
    assert all(logging.getLogger(n).getEffectiveLevel() == logging.ERROR for n in EXPORTER_LOGGERS)


def test_verbose_leaves_third_party_logs_on(fresh_loggers):
    main(["--verbose"])
    assert all(logging.getLogger(n).level == logging.NOTSET for n in EXPORTER_LOGGERS)
