"""The shared gunicorn settings file and its environment variables."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _check_config(**environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "--print-config",
         "--config", "config/gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT, env={**os.environ, **environment}, capture_output=True, text=True,
        timeout=60,
    )


def test_settings_enable_reuse_port():
    result = _check_config(GUNICORN_THREADS="4")

    assert result.returncode == 0, result.stderr
    lines = (line.partition("=") for line in result.stdout.splitlines())
    printed = {name.strip(): value.strip() for name, _, value in lines}
    assert printed["reuse_port"] == "True"
    assert printed["threads"] == "4"
    assert printed["worker_class"] == "gthread"


@pytest.mark.parametrize("value", ["0", "-2", "eight", "1.5"])
def test_invalid_thread_count_is_rejected(value):
    result = _check_config(GUNICORN_THREADS=value)

    assert result.returncode != 0
    assert f"GUNICORN_THREADS={value!r} is invalid" in result.stderr
