"""Image Engine as a Windows service: a pywin32 service class around the engine loop, or a WinSW definition.

Stop maps to the engine's stop event, pause/continue to its own pause/resume. Commands are built as lists
(testable anywhere); only install/uninstall/status run them, on Windows.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path, PurePath, PureWindowsPath
from typing import Any

from daemon.config import Config
from service import DESCRIPTION, DISPLAY_NAME, ServiceError, ServicePaths

WINDOWS_NAME = "ImageEngine"
CLASS_STRING = "service.windows.ImageEngineService"
REGISTRY_KEY = rf"HKLM\SYSTEM\CurrentControlSet\Services\{WINDOWS_NAME}"
STOP_TIMEOUT_SECONDS = 30
# Restart 5 s after a first and second failure, 60 s after the third; the count resets after a day.
FAILURE_ACTIONS = "restart/5000/restart/10000/restart/60000"

try:  # pywin32 exists only on Windows, and only in venvs where its post-install worked
    import servicemanager
    import win32service
    import win32serviceutil
except ImportError:
    servicemanager = win32service = win32serviceutil = None


class EngineHost:
    """Runs `daemon.runtime.serve.serve` (the code behind `image-engine run`) with a stop event instead of signals."""

    def __init__(self, config_file: Path):
        self.config_file = config_file
        self.stop_event = threading.Event()
        self.started = threading.Event()
        self.app: Any = None

    def run(self) -> int:
        from daemon.config import load_config
        from daemon.runtime.serve import serve

        return serve(load_config(self.config_file), self.stop_event, on_started=self._on_started)

    def _on_started(self, app: Any) -> None:
        self.app = app
        self.started.set()

    def stop(self) -> None:
        self.stop_event.set()

    def pause(self) -> bool:
        return self._set_paused(True)

    def resume(self) -> bool:
        return self._set_paused(False)

    @property
    def paused(self) -> bool:
        return bool(self.app is not None and self.app.control.paused)

    def _set_paused(self, paused: bool) -> bool:
        """The engine's own pause (persisted, like `image-engine pause`); False before start-up or while stopping."""
        app = self.app
        if app is None or self.stop_event.is_set():
            return False
        try:
            app.set_paused(paused)
        finally:
            app.store.release_thread()  # the service control thread is not one of the engine's
        return True


if win32serviceutil is not None:

    class ImageEngineService(win32serviceutil.ServiceFramework):
        _svc_name_ = WINDOWS_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = DESCRIPTION

        def __init__(self, args: Any):
            super().__init__(args)
            config = win32serviceutil.GetServiceCustomOption(WINDOWS_NAME, "config")
            if not config:
                raise ServiceError(rf"no config path in {REGISTRY_KEY}\Parameters: run `image-engine service install`")
            self.host = EngineHost(Path(config))

        def SvcDoRun(self) -> None:  # noqa: N802 - pywin32's names
            servicemanager.LogInfoMsg(f"{DISPLAY_NAME} starting with {self.host.config_file}")
            waiter = threading.Thread(target=self._report_paused_at_start, daemon=True)
            waiter.start()
            code = self.host.run()
            if code != 0:  # raising makes pythonservice report a failed stop: SCM applies the recovery actions
                servicemanager.LogErrorMsg(f"{DISPLAY_NAME} stopped with exit code {code}: see its log file")
                raise ServiceError(f"the engine exited with code {code}")

        def _report_paused_at_start(self) -> None:
            self.host.started.wait()
            if self.host.paused:  # paused before the restart (pause survives restarts)
                self.ReportServiceStatus(win32service.SERVICE_PAUSED)

        def SvcStop(self) -> None:  # noqa: N802
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING, waitHint=STOP_TIMEOUT_SECONDS * 1000)
            self.host.stop()

        def SvcShutdown(self) -> None:  # noqa: N802
            self.SvcStop()

        def SvcPause(self) -> None:  # noqa: N802
            self.ReportServiceStatus(win32service.SERVICE_PAUSE_PENDING)
            self.host.pause()
            self.ReportServiceStatus(win32service.SERVICE_PAUSED)

        def SvcContinue(self) -> None:  # noqa: N802
            self.ReportServiceStatus(win32service.SERVICE_CONTINUE_PENDING)
            self.host.resume()
            self.ReportServiceStatus(win32service.SERVICE_RUNNING)


# -- commands (pure) ---------------------------------------------------------------------------------------------


def sc_install_commands(host_exe: PurePath, config_file: PurePath) -> list[list[str]]:
    """Register the pywin32 service: pythonservice.exe hosts the class named in the PythonClass key, which
    reads its config path from Parameters\\config (win32serviceutil.GetServiceCustomOption)."""
    return [
        [
            "sc.exe",
            "create",
            WINDOWS_NAME,
            "binPath=",
            f'"{host_exe}"',
            "start=",
            "delayed-auto",
            "DisplayName=",
            DISPLAY_NAME,
        ],
        ["sc.exe", "description", WINDOWS_NAME, DESCRIPTION],
        ["reg.exe", "add", rf"{REGISTRY_KEY}\PythonClass", "/ve", "/t", "REG_SZ", "/d", CLASS_STRING, "/f"],
        ["reg.exe", "add", rf"{REGISTRY_KEY}\Parameters", "/v", "config", "/t", "REG_SZ", "/d", str(config_file), "/f"],
        *recovery_commands(),
        ["sc.exe", "start", WINDOWS_NAME],
    ]


def recovery_commands() -> list[list[str]]:
    """Restart on failure, also when the engine exits with an error code (failureflag 1), not only on crashes."""
    return [
        ["sc.exe", "failure", WINDOWS_NAME, "reset=", "86400", "actions=", FAILURE_ACTIONS],
        ["sc.exe", "failureflag", WINDOWS_NAME, "1"],
    ]


def sc_uninstall_commands() -> list[list[str]]:
    return [["sc.exe", "stop", WINDOWS_NAME], ["sc.exe", "delete", WINDOWS_NAME]]


def python_module_args(paths: ServicePaths) -> list[str]:
    """`python -m daemon --config FILE run`: the same entry point, without the pip launcher exe in between."""
    return ["-m", "daemon", *paths.run_args]


def winsw_xml(paths: ServicePaths, config: Config, account: str | None = None) -> str:
    """A WinSW (v2 and v3) service definition running `python -m daemon --config FILE run`. WinSW stops it
    with Ctrl+C, which the engine handles like SIGTERM, and kills it after the stop timeout."""
    root = ET.Element("service")

    def add(tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(root, tag, attrs)
        element.text = text
        return element

    add("id", WINDOWS_NAME)
    add("name", DISPLAY_NAME)
    add("description", DESCRIPTION)
    add("executable", str(paths.python))
    add("arguments", subprocess.list2cmdline(python_module_args(paths)))
    add("workingdirectory", str(config.data_dir))
    add("env", name="PYTHONUNBUFFERED", value="1")
    add("startmode", "Automatic")
    add("delayedAutoStart", "true")
    add("stoptimeout", f"{STOP_TIMEOUT_SECONDS} sec")
    for delay in ("5 sec", "10 sec", "60 sec"):
        add("onfailure", action="restart", delay=delay)
    add("resetfailure", "1 day")
    add("logpath", str(PureWindowsPath(str(config.data_dir)) / "logs" / "service"))
    log = add("log", mode="roll-by-size")
    ET.SubElement(log, "sizeThreshold").text = "10240"
    ET.SubElement(log, "keepFiles").text = "5"
    if account:
        service_account = add("serviceaccount")
        ET.SubElement(service_account, "username").text = account
        ET.SubElement(service_account, "allowservicelogon").text = "true"
    ET.indent(root)
    comment = (
        "<!-- Image Engine for WinSW (https://github.com/winsw/winsw), written by `image-engine service install"
        " --winsw`.\n     Pause and resume with `image-engine pause` / `image-engine resume` (WinSW has no pause). -->\n"
    )
    return comment + ET.tostring(root, encoding="unicode") + "\n"


def winsw_commands(xml_path: PurePath, action: str) -> list[list[str]]:
    """WinSW v3 takes the XML path; with v2, copy WinSW.exe beside the XML as ImageEngine.exe and run that."""
    if action == "install":
        return [["winsw", "install", str(xml_path)], ["winsw", "start", str(xml_path)]]
    return [["winsw", "stop", str(xml_path)], ["winsw", "uninstall", str(xml_path)]]


def shawl_command(paths: ServicePaths, data_dir: PurePath) -> list[str]:
    """The other usual wrapper: shawl (https://github.com/mtkennerly/shawl) around the same command."""
    return [
        "shawl",
        "add",
        "--name",
        WINDOWS_NAME,
        "--cwd",
        str(data_dir),
        "--stop-timeout",
        str(STOP_TIMEOUT_SECONDS * 1000),
        "--restart",
        "--",
        str(paths.python),
        *python_module_args(paths),
    ]


def profile_warnings(config: Config, raw_keys: Sequence[str]) -> list[str]:
    """A service runs as LocalSystem by default, whose home is not yours: paths left to defaults move."""
    missing = [key for key in ("data_dir",) if key not in raw_keys]
    if not missing:
        return []
    return [
        f"the config sets no {', '.join(missing)}: as a service (LocalSystem) the default would be under "
        r"C:\Windows\System32\config\systemprofile. Set data_dir, [library] root and every [[watch]] path to "
        "absolute paths, or run the service under your own account."
    ]


# -- install / uninstall / status (Windows) ----------------------------------------------------------------------


def _run_all(commands: Sequence[Sequence[str]], out: Callable[[str], None], tolerate: bool = False) -> int:
    for command in commands:
        out("> " + subprocess.list2cmdline(list(command)))
        result = subprocess.run(list(command), capture_output=True, text=True, check=False)
        text = ((result.stdout or "") + (result.stderr or "")).strip()
        if text:
            out(text)
        if result.returncode != 0 and not tolerate:
            raise ServiceError(f"{command[0]} {command[1]} failed with exit code {result.returncode} (run as admin?)")
    return 0


def _print_all(commands: Sequence[Sequence[str]], out: Callable[[str], None]) -> None:
    for command in commands:
        out(subprocess.list2cmdline(list(command)))


def install(
    paths: ServicePaths,
    config: Config,
    use_winsw: bool,
    out_dir: Path,
    print_only: bool = False,
    out: Callable[[str], None] = print,
) -> int:
    import tomllib

    raw = tomllib.loads(Path(str(paths.config_file)).read_text(encoding="utf-8"))
    for warning in profile_warnings(config, list(raw)):
        out(f"warning: {warning}")
    if use_winsw or win32serviceutil is None:
        if not use_winsw:
            out("pywin32 is not importable in this venv: writing a WinSW definition instead.")
        xml_path = out_dir / f"{WINDOWS_NAME}.xml"
        text = winsw_xml(paths, config)
        commands = winsw_commands(xml_path, "install")
        if print_only:
            out(text)
            _print_all(commands, out)
            return 0
        out_dir.mkdir(parents=True, exist_ok=True)
        xml_path.write_text(text, encoding="utf-8")
        out(f"wrote {xml_path}")
        if shutil.which("winsw") is None:
            out("WinSW is not on PATH: download WinSW-x64.exe from https://github.com/winsw/winsw/releases, then:")
            _print_all(commands, out)
            return 0
        return _run_all(commands, out)
    host_exe = PurePath(win32serviceutil.LocatePythonServiceExe())  # copies pythonservice.exe into the venv
    commands = sc_install_commands(host_exe, paths.config_file)
    if print_only:
        _print_all(commands, out)
        return 0
    return _run_all(commands, out)


def uninstall(use_winsw: bool, out_dir: Path, print_only: bool = False, out: Callable[[str], None] = print) -> int:
    if use_winsw:
        commands = winsw_commands(out_dir / f"{WINDOWS_NAME}.xml", "uninstall")
        if print_only or shutil.which("winsw") is None:
            _print_all(commands, out)
            return 0
        return _run_all(commands, out, tolerate=True)
    if print_only:
        _print_all(sc_uninstall_commands(), out)
        return 0
    _run_all(sc_uninstall_commands()[:1], out, tolerate=True)
    return _run_all(sc_uninstall_commands()[1:], out)


def status(out: Callable[[str], None] = print) -> int:
    result = subprocess.run(["sc.exe", "query", WINDOWS_NAME], capture_output=True, text=True, check=False)
    out(((result.stdout or "") + (result.stderr or "")).strip())
    return 0 if "RUNNING" in (result.stdout or "") or "PAUSED" in (result.stdout or "") else 3


if __name__ == "__main__" and win32serviceutil is not None:  # `python -m service.windows debug|install|...`
    win32serviceutil.HandleCommandLine(ImageEngineService)
