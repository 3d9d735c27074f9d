#!/usr/bin/env bash
# Does CUDA work inside the hardened systemd unit? Checks it on a GPU machine that has no systemd of its own.
#   scripts/service-gpu-check.sh bundle    here (Debian 12 with systemd installed): systemd + libs, the unit
#                                          rendered by service/systemd.py, and a probe, into test-artifacts/sdbundle
#   unshare --mount --propagation private scripts/service-gpu-check.sh run     on the GPU machine, as root
#                                          (carry test-artifacts/sdbundle); PYBIN = a python with CUDA torch
# The probe stands in for `image-engine run` (the GPU machine lacks the engine's dependencies): same ExecStart
# shape, same hardening; it runs a CUDA matmul, tries writes inside and outside ReadWritePaths and speaks
# sd_notify through daemon/runtime/notify.py. Results: /srv/ie-gpu/data/probe.json, printed.
set -euo pipefail
cd "$(dirname "$0")/.."
B=test-artifacts/sdbundle
case "${1:-}" in
bundle)
  rm -rf "$B" && mkdir -p "$B/bin" "$B/lib" "$B/units"
  cp /lib/systemd/systemd /bin/systemctl "$B/bin/"
  ldd /lib/systemd/systemd /bin/systemctl | awk '{print $3}' | grep '^/' | sort -u | grep -v -E 'libc.so|libm.so' \
    | xargs -I{} cp -L {} "$B/lib/"
  printf '[Unit]\nDescription=Default target\n' >"$B/units/default.target"
  .venv/bin/python - <<'EOF'
from pathlib import Path
from daemon.config import parse_config
from service import ServicePaths, systemd as sd
root = Path("/srv/ie-gpu")
config = parse_config(
    {"data_dir": str(root / "data"), "watch": [{"path": str(root / "drop")}], "library": {"root": str(root / "library")}},
    root / "config.toml",
)
paths = ServicePaths(root / "bin" / "image-engine", root / "bin" / "python", root / "config.toml")
mode = sd.Mode(extra_writable=tuple(sd.model_cache_paths({"HOME": str(root / "home")})))
Path("test-artifacts/sdbundle/image-engine.service").write_text(sd.render_unit(config, paths, mode))
EOF
  cat >"$B/probe.py" <<'EOF'
#!PYBIN
import json, os, signal, socket, sys, threading, time
from pathlib import Path
sys.path.insert(0, "@REPO@")
from daemon.runtime.notify import Notifier
result = {"argv": sys.argv[1:], "notify_socket": "NOTIFY_SOCKET" in os.environ}
notifier = Notifier.from_env()
result["watchdog_interval"] = notifier.watchdog_interval if notifier else None
try:
    import torch
    started = time.time()
    x = torch.randn(4096, 4096, device="cuda")
    total = (x @ x).sum().item()
    torch.cuda.synchronize()
    result["cuda"] = {"device": torch.cuda.get_device_name(0), "finite": total == total, "s": round(time.time() - started, 2)}
except Exception as exc:  # the point of the probe: report, do not hide
    result["cuda"] = {"error": repr(exc)}
for name, path in {"etc": "/etc/ie-probe", "home": "/root/ie-probe", "usr": "/usr/ie-probe", "tmp": "/tmp/ie-probe",
                   "library": "/srv/ie-gpu/library/ie-probe", "drop": "/srv/ie-gpu/drop/ie-probe"}.items():
    try:
        Path(path).write_text("x")
        os.unlink(path)
        result[f"write_{name}"] = "ok"
    except OSError as exc:
        result[f"write_{name}"] = exc.strerror
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close()
    result["af_netlink"] = "allowed"
except OSError as exc:
    result["af_netlink"] = exc.strerror
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *args: stop.set())
Path("/srv/ie-gpu/data/probe.json").write_text(json.dumps(result, indent=1))
if notifier:
    notifier.ready("probe ready")
while not stop.wait(0.2):
    if notifier and notifier.ping_due():
        notifier.watchdog()
if notifier:
    notifier.stopping()
EOF
  du -sh "$B" ;;
run)
  REPO=$PWD
  export LD_LIBRARY_PATH=$REPO/$B/lib SYSTEMD_UNIT_PATH=$REPO/$B/units: HOME=/srv/ie-gpu/home
  export XDG_RUNTIME_DIR=/srv/ie-gpu/xdg PATH=$REPO/$B/bin:$PATH
  mkdir -p /run/systemd && mount -t tmpfs none /run/systemd   # needs a private mount namespace (unshare)
  mkdir -p /run/systemd/system /run/systemd/inaccessible
  (cd /run/systemd/inaccessible && touch reg && mkdir dir && mknod chr c 0 0 && mknod blk b 0 0 && mkfifo fifo \
    && python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('sock')" && chmod 0000 reg dir chr blk fifo sock)
  rm -rf /srv/ie-gpu && mkdir -p /srv/ie-gpu/{bin,data,drop,library,home/.config/systemd/user} && mkdir -m 700 "$XDG_RUNTIME_DIR"
  sed -e "s#@REPO@#$REPO#" -e "1s|.*|#!${PYBIN:-/opt/torch/.venv/bin/python3}|" "$B/probe.py" >/srv/ie-gpu/bin/image-engine
  chmod +x /srv/ie-gpu/bin/image-engine && : >/srv/ie-gpu/config.toml
  cp "$B/image-engine.service" "$HOME/.config/systemd/user/"
  "$B/bin/systemd" --user >/dev/null 2>&1 &
  MGR=$!
  trap 'kill $MGR; wait $MGR; rm -rf /srv/ie-gpu' EXIT
  for _ in $(seq 100); do systemctl --user is-system-running >/dev/null 2>&1 && break; sleep 0.1; done
  systemctl --user start image-engine.service && echo "start: ok" || echo "start: FAILED"
  systemctl --user show image-engine.service -p ActiveState -p StatusText -p Result -p ExecMainStatus
  cat /srv/ie-gpu/data/probe.json; echo
  systemctl --user stop image-engine.service
  systemctl --user show image-engine.service -p ActiveState -p Result ;;
*) echo "usage: $0 bundle | run" >&2; exit 2 ;;
esac
