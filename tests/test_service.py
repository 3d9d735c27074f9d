"""Service install: the systemd unit checked by systemd-analyze, install/uninstall round trips, sd_notify from
the real engine, a real systemd user manager running the unit, and the Windows definitions built on Linux."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import types
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path, PureWindowsPath

import pytest

from daemon.config import load_config, parse_config
from service import ServiceError, ServicePaths, venv_paths, windows
from service import systemd as sd
from tests.support import REPO, REQUIRE_CORPUS, Engine, copy_in, corpus, wait_for, write_config

VENV_EXE = Path(sys.executable).parent / "image-engine"
# Measured with systemd 252 (Debian 12): user unit 1.9, system unit 1.7 (2.1 / 1.9 when a folder is under /tmp,
# which turns PrivateTmp off). The bound leaves room for other systemd versions' weights, not for lost knobs.
EXPOSURE_BOUND = 2.5


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: apt-get install systemd (listed in scripts/apt-packages.txt)"
        if REQUIRE_CORPUS:
            pytest.fail(message)
        pytest.skip(message)
    return path


def config_for(folder: Path, home: str = "/home/ann") -> object:
    """A config whose folders lie outside /tmp, as on a real machine (they need not exist to render a unit)."""
    raw = {
        "data_dir": f"{home}/.local/share/image-engine",
        "watch": [{"path": f"{home}/Pictures/Drop"}, {"path": "/mnt/nas/photos 100%", "mode": "in-place"}],
        "library": {"root": f"{home}/Pictures/Library"},
    }
    return parse_config(raw, folder / "config.toml")


def analyze(folder: Path, text: str, *args: str, user: bool = True) -> subprocess.CompletedProcess[str]:
    """Run systemd-analyze on the unit text saved as image-engine.service in its own folder."""
    need_tool("systemd-analyze")
    unit_folder = folder / "units"
    unit_folder.mkdir(exist_ok=True)
    unit = unit_folder / sd.UNIT_NAME
    unit.write_text(text, encoding="utf-8")
    runtime = folder / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_TARGET": "console"}
    command = ["systemd-analyze", *(["--user"] if user else []), *args, str(unit)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def exposure(result: subprocess.CompletedProcess[str]) -> float:
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


# -- the unit ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["user", "system"])
def test_unit_passes_systemd_analyze_verify_without_a_word(tmp_path: Path, scope: str) -> None:
    config_file = tmp_path / "Ann's config 100% $HOME" / "config.toml"
    paths = ServicePaths(VENV_EXE, VENV_EXE.parent / "python", config_file)
    text = sd.render_unit(config_for(tmp_path), paths, sd.Mode(scope=scope, account="image-engine"))

    result = analyze(tmp_path, text, "verify", user=scope == "user")

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert f'ExecStart="{VENV_EXE}" --config "{str(config_file).replace("%", "%%").replace("$", "$$")}" run' in text
    assert "Type=notify" in text and "NotifyAccess=main" in text and "WatchdogSec=30" in text
    rw = next(line for line in text.splitlines() if line.startswith("ReadWritePaths="))
    assert rw == (
        'ReadWritePaths=-/home/ann/.local/share/image-engine -/home/ann/Pictures/Drop -/home/ann/Pictures/Library "-/mnt/nas/photos 100%%"'
    )
    assert ("PrivateUsers=yes" in text) == (scope == "user")
    assert ("User=image-engine" in text) == (scope == "system")


def test_verify_reports_what_is_wrong_so_any_output_fails(tmp_path: Path) -> None:
    """The check above can fail: a missing ExecStart program and a misspelt key both print (and exit 0 for the key)."""
    missing = tmp_path / "venv" / "bin" / "image-engine"
    paths = ServicePaths(missing, missing.parent / "python", tmp_path / "config.toml")
    text = sd.render_unit(config_for(tmp_path), paths, sd.Mode())
    assert "is not executable" in analyze(tmp_path, text, "verify").stderr
    good = ServicePaths(VENV_EXE, VENV_EXE.parent / "python", tmp_path / "config.toml")
    typo = sd.render_unit(config_for(tmp_path), good, sd.Mode()).replace("ProtectClock=", "ProtectClok=")
    result = analyze(tmp_path, typo, "verify")
    assert result.returncode == 0 and "Unknown key" in result.stderr


@pytest.mark.parametrize("scope", ["user", "system"])
def test_hardening_score_stays_low(tmp_path: Path, scope: str) -> None:
    paths = ServicePaths(VENV_EXE, VENV_EXE.parent / "python", tmp_path / "config.toml")
    text = sd.render_unit(config_for(tmp_path), paths, sd.Mode(scope=scope, account="image-engine"))

    result = analyze(tmp_path, text, "security", "--offline=true", user=scope == "user")

    score = exposure(result)
    print(f"systemd-analyze security ({scope} unit): exposure {score}")
    assert score < EXPOSURE_BOUND, result.stdout


def test_unit_refuses_paths_systemd_cannot_run(tmp_path: Path) -> None:
    odd = Path('/opt/we"ird/bin/image-engine')
    with pytest.raises(ServiceError, match="cannot run a program whose path contains"):
        sd.render_unit(config_for(tmp_path), ServicePaths(odd, odd.parent / "python", tmp_path / "c.toml"), sd.Mode())
    with pytest.raises(ServiceError, match="not found"):
        venv_paths(tmp_path / "c.toml", tmp_path / "nothing" / "image-engine")


def test_user_unit_dir_honours_xdg_config_home(tmp_path: Path) -> None:
    assert sd.unit_dir(sd.Mode(), {"XDG_CONFIG_HOME": str(tmp_path), "HOME": "/home/x"}) == tmp_path / "systemd/user"
    assert sd.unit_dir(sd.Mode(), {"XDG_CONFIG_HOME": "relative", "HOME": "/home/x"}) == Path(
        "/home/x/.config/systemd/user"
    )
    assert sd.unit_dir(sd.Mode(scope="system")) == Path("/etc/systemd/system")


# -- install / uninstall -----------------------------------------------------------------------------------------


def tree(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home" / "cfg")}
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def test_without_systemd_install_prints_unit_and_commands_and_writes_nothing(tmp_path: Path) -> None:
    if sd.systemd_running():
        pytest.skip("systemd runs here: this test is about machines without it")
    config = write_config(tmp_path)
    (tmp_path / "home").mkdir()
    before = tree(tmp_path)

    install = run_cli(tmp_path, "--config", str(config), "service", "install")
    uninstall = run_cli(tmp_path, "--config", str(config), "service", "uninstall")
    status = run_cli(tmp_path, "--config", str(config), "service", "status")

    assert install.returncode == 0, install.stderr
    unit_path = tmp_path / "home" / "cfg" / "systemd" / "user" / sd.UNIT_NAME
    assert "systemd is not running" in install.stdout
    assert f"# ---- {unit_path} ----" in install.stdout
    assert "Type=notify" in install.stdout and f"--config {config} run" in install.stdout
    assert "systemctl --user daemon-reload\nsystemctl --user enable --now image-engine.service" in install.stdout
    assert uninstall.returncode == 0, uninstall.stderr
    assert "systemctl --user disable --now image-engine.service" in uninstall.stdout
    assert f"rm -f {unit_path}" in uninstall.stdout
    assert status.returncode == 3 and "not installed" in status.stdout
    assert tree(tmp_path) == before


def test_install_needs_a_config_file_uninstall_and_status_do_not(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    result = run_cli(tmp_path, "service", "install", "--print")
    assert result.returncode == 1 and "needs a config file" in result.stderr
    uninstall = run_cli(tmp_path, "service", "uninstall", "--print")
    assert uninstall.returncode == 0 and "systemctl --user disable --now image-engine.service" in uninstall.stdout
    if not sd.systemd_running():
        status = run_cli(tmp_path, "service", "status")
        assert status.returncode == 3 and "not installed" in status.stdout


def test_injected_unit_dir_round_trip_writes_then_removes_only_the_unit(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    target = tmp_path / "units"
    plan = sd.make_plan(config, venv_paths(tmp_path / "config.toml"), sd.Mode(), target)
    lines: list[str] = []

    sd.Installer(plan, booted=False, explicit_dir=True, out=lines.append).install(
        create_dirs=[config.data_dir, config.library.root]
    )
    assert (target / sd.UNIT_NAME).read_text(encoding="utf-8") == plan.unit_text
    assert config.data_dir.is_dir() and config.library.root.is_dir()
    assert "systemctl --user enable --now image-engine.service" in lines

    sd.Installer(plan, booted=False, explicit_dir=True, out=lines.append).uninstall()
    assert tree(target) == []


def test_with_systemd_install_reloads_enables_and_uninstall_reverses(tmp_path: Path) -> None:
    """systemctl is the missing world here: a recorder stands in for it; the file work is real."""
    config = load_config(write_config(tmp_path))
    plan = sd.make_plan(config, venv_paths(tmp_path / "config.toml"), sd.Mode(), tmp_path / "units")
    calls: list[tuple[list[str], bool]] = []

    def systemctl(command: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append((list(command), plan.unit_path.exists()))
        return subprocess.CompletedProcess(command, 0, "", "")

    installer = sd.Installer(plan, booted=True, runner=systemctl, out=lambda line: None)
    installer.install()
    installer.uninstall()

    ctl = ["systemctl", "--user"]
    assert calls == [
        ([*ctl, "daemon-reload"], True),
        ([*ctl, "enable", "--now", sd.UNIT_NAME], True),
        ([*ctl, "disable", "--now", sd.UNIT_NAME], True),
        ([*ctl, "daemon-reload"], False),
    ]

    def failing(command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 1, "", "Failed to connect to bus")

    with pytest.raises(ServiceError, match="daemon-reload` failed with exit code 1: Failed to connect to bus"):
        sd.Installer(plan, booted=True, runner=failing, out=lambda line: None).install()


# -- sd_notify ---------------------------------------------------------------------------------------------------


class NotifyListener:
    """The service manager's end: an abstract AF_UNIX datagram socket, as systemd uses."""

    def __init__(self) -> None:
        self.name = f"image-engine-test-{uuid.uuid4().hex}"
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind("\0" + self.name)
        self.socket.settimeout(0.2)
        self.messages: list[dict[str, str]] = []

    def drain(self) -> list[dict[str, str]]:
        while True:
            try:
                data = self.socket.recv(4096)
            except TimeoutError:
                return self.messages
            self.messages.append(dict(line.split("=", 1) for line in data.decode().splitlines()))

    def seen(self, key: str, value: str | None = None) -> list[dict[str, str]]:
        return [m for m in self.drain() if key in m and (value is None or m[key] == value)]


def test_engine_reports_ready_status_watchdog_and_stopping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo = corpus() / "photos" / "Apple iPhone 4.jpg"
    listener = NotifyListener()
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + listener.name)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    engine = Engine(tmp_path, write_config(tmp_path))
    copy_in([photo], engine.drop)
    engine.start()
    try:
        ready = wait_for(lambda: listener.seen("READY", "1"), 30, message="READY=1")
        assert ready[0]["MAINPID"] == str(engine.process.pid)
        done = wait_for(
            lambda: [m for m in listener.seen("STATUS") if m["STATUS"] == "0 queued, 0 running, 1 done, 0 failed"],
            30,
            message="a STATUS line counting the photo as done",
        )
        assert done
        wait_for(lambda: len(listener.seen("WATCHDOG", "1")) >= 2, 15, message="watchdog pings")
    finally:
        code = engine.stop()
    assert code == 0, engine.log.read_text(errors="replace")
    stopping = listener.seen("STOPPING", "1")
    assert stopping and stopping[0]["STATUS"].startswith("stopping")
    order = [next(iter(m)) for m in listener.messages]
    assert order.index("READY") < order.index("STOPPING") == len(order) - 1
    listener.socket.close()


def test_notifier_is_off_without_notify_socket_and_speaks_to_a_path_socket(tmp_path: Path) -> None:
    from daemon.runtime.notify import Notifier, status_line

    assert Notifier.from_env({}) is None
    assert Notifier.from_env({"NOTIFY_SOCKET": "relative/sock"}) is None
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(tmp_path / "notify"))
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "4000000"})
    assert notifier is not None and notifier.watchdog_interval == 2.0
    notifier.status(status_line({"queued": 12, "running": 3, "done": 1040, "failed": 2}))
    assert server.recv(100) == b"STATUS=12 queued, 3 running, 1040 done, 2 failed"
    inherited = Notifier.from_env({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"})
    assert inherited is not None and inherited.watchdog_interval is None
    for opened in (notifier, inherited):
        opened.close()
    server.close()


# -- a real systemd user manager ---------------------------------------------------------------------------------

# A real `systemd --user` in a private mount namespace (run by `run_under_user_manager`, steps appended).
USER_MANAGER = r"""
set -u
# Make this private mount namespace look booted with systemd (what PID 1 prepares under /run/systemd).
mount -t tmpfs none /run/systemd
mkdir -p /run/systemd/system /run/systemd/inaccessible
(cd /run/systemd/inaccessible && touch reg && mkdir dir && mknod chr c 0 0 && mknod blk b 0 0 && mkfifo fifo \
  && "$PY" -c "import socket; socket.socket(socket.AF_UNIX).bind('sock')" && chmod 0000 reg dir chr blk fifo sock)
mkdir -m 700 -p "$XDG_RUNTIME_DIR"
/lib/systemd/systemd --user >/dev/null 2>&1 &
MGR=$!
trap 'systemctl --user stop image-engine.service 2>/dev/null; kill $MGR; wait $MGR' EXIT
for i in $(seq 100); do systemctl --user is-system-running >/dev/null 2>&1 && break; sleep 0.1; done
show() { echo "$1=$(systemctl --user show image-engine.service -p "$2" --value)"; }
"""

E2E_SCRIPT = r"""
"$PY" -m daemon --config "$CONFIG" service install --exec "$EXE" >"$OUT/install.txt" 2>&1; echo "install=$?"
show active ActiveState
cp "$PHOTO" "$DROP/"
for i in $(seq 150); do systemctl --user show image-engine.service -p StatusText --value | grep -q "1 done" && break; sleep 0.1; done
show status StatusText
mkdir -p "$UNITS/image-engine.service.d"
printf '[Service]\nWatchdogSec=2\nRestartSec=1\n' >"$UNITS/image-engine.service.d/test.conf"
systemctl --user daemon-reload && systemctl --user restart image-engine.service
kill -STOP "$(systemctl --user show image-engine.service -p MainPID --value)"
for i in $(seq 150); do [ "$(systemctl --user show image-engine.service -p NRestarts --value)" -ge 1 ] && break; sleep 0.1; done
show restarts NRestarts
for i in $(seq 100); do [ "$(systemctl --user show image-engine.service -p ActiveState --value)" = active ] && break; sleep 0.1; done
show active_again ActiveState
"$PY" -m daemon --config "$CONFIG" service uninstall >"$OUT/uninstall.txt" 2>&1; echo "uninstall=$?"
show load_after LoadState
show active_after ActiveState
"""


def run_under_user_manager(steps: str, env: dict[str, str], out: Path) -> tuple[dict[str, str], str]:
    """Run `steps` (bash; `show NAME PROPERTY` prints a unit property) under a private user manager: the
    `name=value` lines it printed, and the details to show when an assertion fails (stderr, install output)."""
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", USER_MANAGER + steps],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    facts = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return facts, json.dumps(facts) + result.stderr + (out / "install.txt").read_text(errors="replace")


def test_real_user_manager_runs_the_unit(tmp_path: Path) -> None:
    """A real `systemd --user` in a private mount namespace runs the installed unit with all its hardening:
    READY arrives, STATUS counts the photo, a frozen engine is restarted by the watchdog, uninstall cleans up."""
    if os.geteuid() != 0 or not Path("/lib/systemd/systemd").exists() or shutil.which("unshare") is None:
        pytest.skip("needs root, unshare and /lib/systemd/systemd to run a user manager in a private namespace")
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a mount namespace here: {probe.stderr.decode().strip()}")
    photo = corpus() / "photos" / "Apple iPhone 4.jpg"
    folder = tmp_path / "Ann's photos 100%"  # quoting and specifier escaping, for real
    folder.mkdir()
    config = write_config(folder)
    (folder / "drop").mkdir()
    exe = tmp_path / "bin" / "image-engine"  # runs this checkout (the shared venv's script runs another)
    exe.parent.mkdir()
    exe.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\nfrom daemon.cli import main\nsys.exit(main())\n"
    )
    exe.chmod(0o755)
    home = tmp_path / "home"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(tmp_path / "runtime"),
        "PY": sys.executable,
        "CONFIG": str(config),
        "EXE": str(exe),
        "PHOTO": str(photo),
        "DROP": str(folder / "drop"),
        "UNITS": str(home / ".config" / "systemd" / "user"),
        "OUT": str(tmp_path),
    }
    facts, details = run_under_user_manager(E2E_SCRIPT, env, tmp_path)
    assert facts.get("install") == "0", details
    assert facts["active"] == "active", details
    assert facts["status"] == "0 queued, 0 running, 1 done, 0 failed", details
    assert int(facts["restarts"]) >= 1 and facts["active_again"] == "active", details
    assert facts["uninstall"] == "0" and facts["load_after"] == "not-found", details
    assert not (home / ".config" / "systemd" / "user" / sd.UNIT_NAME).exists()
    assert (folder / "data" / "image-engine.db").exists()


# -- Windows, built and checked on Linux -------------------------------------------------------------------------

WIN_VENV = PureWindowsPath(r"C:\Users\Ann Lee\image-engine\.venv")
WIN_CONFIG = PureWindowsPath(r"C:\Users\Ann Lee\AppData\Roaming\image-engine\config.toml")
WIN_PATHS = ServicePaths(WIN_VENV / "Scripts" / "image-engine.exe", WIN_VENV / "Scripts" / "python.exe", WIN_CONFIG)


def test_winsw_xml_runs_python_m_daemon_with_the_config(tmp_path: Path) -> None:
    config = parse_config(
        {"data_dir": r"D:\ImageEngine", "watch": [{"path": r"D:\Photos\Drop"}]}, tmp_path / "config.toml"
    )
    text = windows.winsw_xml(WIN_PATHS, config)
    root = ET.fromstring(text[text.index("<service>") :])

    assert root.findtext("id") == "ImageEngine"
    assert root.findtext("executable") == str(WIN_PATHS.python)
    assert root.findtext("arguments") == (
        r'-m daemon --config "C:\Users\Ann Lee\AppData\Roaming\image-engine\config.toml" run'
    )
    assert root.findtext("stoptimeout") == "30 sec"
    assert root.findtext("startmode") == "Automatic"
    assert [e.get("action") for e in root.findall("onfailure")] == ["restart"] * 3
    assert root.find("log").get("mode") == "roll-by-size"
    assert root.findtext("logpath").startswith(r"D:\ImageEngine")
    assert root.find("serviceaccount") is None
    with_account = ET.fromstring(windows.winsw_xml(WIN_PATHS, config, account=r".\ann").split("-->", 1)[1])
    assert with_account.findtext("serviceaccount/username") == r".\ann"


def test_pywin32_registration_commands() -> None:
    host = WIN_VENV / "pythonservice.exe"
    commands = windows.sc_install_commands(host, WIN_CONFIG)

    assert commands[0][:4] == ["sc.exe", "create", "ImageEngine", "binPath="]
    assert commands[0][4] == f'"{host}"'
    assert subprocess.list2cmdline(commands[0]).startswith(
        r'sc.exe create ImageEngine binPath= "\"C:\Users\Ann Lee\image-engine\.venv\pythonservice.exe\""'
    )
    assert commands[0][5:7] == ["start=", "delayed-auto"]
    assert [
        "reg.exe",
        "add",
        r"HKLM\SYSTEM\CurrentControlSet\Services\ImageEngine\PythonClass",
        "/ve",
        "/t",
        "REG_SZ",
        "/d",
        "service.windows.ImageEngineService",
        "/f",
    ] in commands
    assert any(c[:2] == ["reg.exe", "add"] and c[-3:] == ["/d", str(WIN_CONFIG), "/f"] for c in commands)
    assert ["sc.exe", "failure", "ImageEngine", "reset=", "86400", "actions=", windows.FAILURE_ACTIONS] in commands
    assert commands[-1] == ["sc.exe", "start", "ImageEngine"]
    assert windows.sc_uninstall_commands() == [["sc.exe", "stop", "ImageEngine"], ["sc.exe", "delete", "ImageEngine"]]
    shawl = windows.shawl_command(WIN_PATHS, PureWindowsPath(r"D:\ImageEngine"))
    assert shawl[-6:] == [str(WIN_PATHS.python), "-m", "daemon", "--config", str(WIN_CONFIG), "run"]
    assert windows.winsw_commands(PureWindowsPath(r"D:\s\ImageEngine.xml"), "install")[0] == [
        "winsw",
        "install",
        r"D:\s\ImageEngine.xml",
    ]


def test_windows_service_warns_when_paths_would_move_to_the_system_profile(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    assert windows.profile_warnings(config, ["data_dir", "watch"]) == []
    assert "systemprofile" in windows.profile_warnings(config, ["watch"])[0]


@pytest.fixture
def pywin32_service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[type, list[int]]]:
    """service.windows re-imported against stand-ins for pywin32 (no Windows here): the Service Control Manager's
    side is a list of reported states; the service class, EngineHost and the engine are the real ones."""
    reported: list[int] = []
    win32service = types.ModuleType("win32service")
    states = ["STOPPED", "START_PENDING", "STOP_PENDING", "RUNNING", "CONTINUE_PENDING", "PAUSE_PENDING", "PAUSED"]
    for value, name in enumerate(states, start=1):  # the SERVICE_* values of winsvc.h
        setattr(win32service, f"SERVICE_{name}", value)

    class ServiceFramework:
        def __init__(self, args: list[str]) -> None:
            self.args = args

        def ReportServiceStatus(self, status: int, waitHint: int = 5000, **codes: int) -> None:  # noqa: N802, N803
            reported.append(status)

    win32serviceutil = types.ModuleType("win32serviceutil")
    win32serviceutil.ServiceFramework = ServiceFramework
    config = str(write_config(tmp_path))
    win32serviceutil.GetServiceCustomOption = lambda name, option, default=None: (
        config if (name, option) == ("ImageEngine", "config") else default
    )
    servicemanager = types.ModuleType("servicemanager")
    servicemanager.LogInfoMsg = servicemanager.LogErrorMsg = lambda message: None
    with monkeypatch.context() as patch:
        for module in (win32service, win32serviceutil, servicemanager):
            patch.setitem(sys.modules, module.__name__, module)
        importlib.reload(windows)
        try:
            yield windows.ImageEngineService, reported
        finally:
            patch.undo()
            importlib.reload(windows)
            vars(windows).pop("ImageEngineService", None)  # reload keeps names the stand-in run defined


def test_windows_service_maps_stop_pause_and_continue_onto_the_engine(
    pywin32_service: tuple[type, list[int]], tmp_path: Path
) -> None:
    service_class, reported = pywin32_service
    paused, running, stop_pending = 7, 4, 3
    client = Engine(tmp_path, tmp_path / "config.toml")

    def start() -> tuple[object, threading.Thread]:
        service = service_class(["ImageEngine"])
        thread = threading.Thread(target=service.SvcDoRun, name="svc-do-run")
        thread.start()
        assert service.host.started.wait(30), "engine did not start"
        return service, thread

    service, thread = start()
    try:
        service.SvcPause()
        assert reported[-1] == paused and client.status()["state"] == "paused"
        service.SvcContinue()
        assert reported[-1] == running and client.status()["state"] == "running"
        service.SvcPause()
    finally:
        service.SvcStop()
        thread.join(30)
    assert not thread.is_alive() and stop_pending in reported
    assert not (tmp_path / "data" / "control.json").exists()

    reported.clear()
    service, thread = start()  # the engine's pause survives the restart, and the SCM is told so
    try:
        wait_for(lambda: paused in reported, 10, message="SERVICE_PAUSED reported at start")
        assert client.status()["state"] == "paused"
        service.SvcContinue()
        assert client.status()["state"] == "running"
    finally:
        service.SvcShutdown()
        thread.join(30)
    assert not thread.is_alive()


@pytest.mark.skipif(os.name == "nt", reason="the Linux side of the command")
def test_winsw_flag_off_windows_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "home").mkdir()
    result = run_cli(tmp_path, "--config", str(config), "service", "install", "--winsw", "--print")
    assert result.returncode == 1 and "run it on Windows" in result.stderr
