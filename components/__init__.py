"""The stack's components; `PROJECT_ROOT` is the repository root every module resolves files from."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
