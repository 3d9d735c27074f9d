#!/usr/bin/env bash
# The test command: the whole suite (chaos included), then ruff. Arguments go to pytest, e.g. the quick loop:
#   scripts/run-tests.sh -m "not slow and not chaos"
# Markers (unit, integration, e2e, chaos, slow, desktop) are applied in tests/markers.py.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=25 "$@"
.venv/bin/ruff check .
