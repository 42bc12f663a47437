"""tests/core is put on sys.path so that the property tests can share `text_strategies`
(pytest runs with --import-mode=importlib, so tests are not packages)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
