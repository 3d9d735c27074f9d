#!/usr/bin/env bash
# The test command: the whole suite (chaos included), then ruff.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
.venv/bin/ruff check .
