"""A service whose program or config file lives under /tmp: PrivateTmp would hide them and the unit would fail
with 203/EXEC (`systemd-analyze verify` does not catch it). Rendered and verified, then run by a real user manager.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service import ServicePaths
from service import systemd as sd
from tests.support import REPO
from tests.test_service import analyze, config_for, run_under_user_manager

MANAGER_SCRIPT = r"""
# The photo folders on a disk outside /tmp (a tmpfs on /media, seen only in this namespace).
mount -t tmpfs none /media
mkdir -p /media/photos/drop
"$PY" -m daemon --config "$CONFIG" service install --exec "$EXE" >"$OUT/install.txt" 2>&1; echo "install=$?"
for i in $(seq 150); do
  [ "$(systemctl --user show image-engine.service -p ActiveState --value)" = active ] && break; sleep 0.1
done
show active ActiveState
show exec_status ExecMainStatus
echo "private_tmp=$(grep -c '^PrivateTmp=yes' "$UNITS/image-engine.service")"
"$PY" -m daemon --config "$CONFIG" service uninstall >"$OUT/uninstall.txt" 2>&1; echo "uninstall=$?"
"""


def program_in_tmp(folder: Path) -> Path:
    """An entry point under /tmp (a venv made there) that runs this checkout with the test's interpreter."""
    exe = folder / "venv" / "bin" / "image-engine"
    exe.parent.mkdir(parents=True)
    exe.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\nfrom daemon.cli import main\nsys.exit(main())\n"
    )
    exe.chmod(0o755)
    return exe


def test_a_unit_whose_program_and_config_are_under_tmp_keeps_the_real_tmp(tmp_path: Path) -> None:
    assert tmp_path.parts[1] == "tmp", "the test needs pytest's tmp_path under /tmp"
    exe = program_in_tmp(tmp_path)
    config_file = tmp_path / "config.toml"
    text = sd.render_unit(config_for(tmp_path), ServicePaths(exe, exe.parent / "python", config_file), sd.Mode())
    assert "PrivateTmp=yes" not in text
    assert f"# PrivateTmp= stays off: {exe}, " in text and str(config_file) in text
    result = analyze(tmp_path, text, "verify")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    # Everything outside /tmp: the private /tmp stays on.
    outside = ServicePaths(Path(sys.executable).parent / "image-engine", Path(sys.executable), Path("/etc/ie.toml"))
    if not any(part == "tmp" for part in Path(sys.executable).parts[1:3]) and REPO.parts[1] != "tmp":
        assert "PrivateTmp=yes" in sd.render_unit(config_for(tmp_path), outside, sd.Mode())


def test_real_user_manager_starts_a_unit_run_from_tmp(tmp_path: Path) -> None:
    """Before: `PrivateTmp=yes` hid the program and config, and the service failed with status 203/EXEC."""
    if os.geteuid() != 0 or not Path("/lib/systemd/systemd").exists() or shutil.which("unshare") is None:
        pytest.skip("needs root, unshare and /lib/systemd/systemd to run a user manager in a private namespace")
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a mount namespace here: {probe.stderr.decode().strip()}")
    exe = program_in_tmp(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(
        'data_dir = "/media/photos/data"\n\n[[watch]]\npath = "/media/photos/drop"\nmode = "drop"\n\n'
        '[library]\nroot = "/media/photos/library"\n\n[tagging]\nenabled = false\n',
        encoding="utf-8",
    )
    home = tmp_path / "home"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(tmp_path / "runtime"),
        "PY": sys.executable,
        "CONFIG": str(config),
        "EXE": str(exe),
        "UNITS": str(home / ".config" / "systemd" / "user"),
        "OUT": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    facts, details = run_under_user_manager(MANAGER_SCRIPT, env, tmp_path)
    assert facts.get("install") == "0", details
    assert facts["private_tmp"] == "0", details
    assert (facts["active"], facts["exec_status"]) == ("active", "0"), details
    assert facts["uninstall"] == "0", details
