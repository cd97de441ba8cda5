"""Re-runs a script of scripts/ with the project's venv python (boto3 and moto live there), so a
person can start it with any python3 or as ./script. Import it before anything from the venv."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".tools", "venv")
VENV_PYTHON = os.path.join(VENV, "bin", "python")


def use_project_venv(script: str, name: str) -> None:
    """Returns when already in the venv; otherwise replaces this process with the venv's python
    running `script` with the same arguments, or exits with a message when there is no venv."""
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(VENV_PYTHON):
        sys.exit(f"{name}: {VENV_PYTHON} not found: run scripts/bootstrap.sh (or scripts/run.sh) first")
    os.execv(VENV_PYTHON, [VENV_PYTHON, os.path.abspath(script), *sys.argv[1:]])
