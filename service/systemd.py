"""The systemd unit for Image Engine (a pure function of config, paths and mode) and its install/uninstall/status.

`--user` units go to $XDG_CONFIG_HOME/systemd/user; `--system` units to /etc/systemd/system with User=.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Literal

from daemon.config import Config
from service import DESCRIPTION, SERVICE_NAME, ServiceError, ServicePaths, writable_paths

UNIT_NAME = f"{SERVICE_NAME}.service"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Mode:
    """user: the logged-in user's manager (no root needed); system: a dedicated account under the system manager."""

    scope: Literal["user", "system"] = "user"
    account: str = SERVICE_NAME  # system mode only: User= and Group=
    watchdog_seconds: int = 30
    restart_seconds: int = 5
    stop_timeout_seconds: int = 30
    extra_writable: tuple[Path, ...] = field(default_factory=tuple)

    @property
    def systemctl(self) -> list[str]:
        return ["systemctl", "--user"] if self.scope == "user" else ["systemctl"]


def unit_dir(mode: Mode, environ: Mapping[str, str] | None = None) -> Path:
    if mode.scope == "system":
        return SYSTEM_UNIT_DIR
    env = os.environ if environ is None else environ
    config_home = env.get("XDG_CONFIG_HOME") or ""
    base = Path(config_home) if os.path.isabs(config_home) else Path(env.get("HOME") or Path.home()) / ".config"
    return base / "systemd" / "user"


def model_cache_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Model caches the tag stage may download into (Hugging Face, torch hub), as the service's user sees them."""
    env = os.environ if environ is None else environ
    cache_home = env.get("XDG_CACHE_HOME") or ""
    base = Path(cache_home) if os.path.isabs(cache_home) else Path(env.get("HOME") or Path.home()) / ".cache"
    return [base / "huggingface", base / "torch"]


def render_unit(config: Config, paths: ServicePaths, mode: Mode) -> str:
    """The unit file text, every setting explained by a comment above it. Pure: the same inputs give the
    same text (tests run `systemd-analyze verify` and `security` on it)."""
    user = mode.scope == "user"
    ctl = "systemctl --user" if user else "systemctl"
    exec_start = " ".join([_exec_path(paths.executable), *(_quote(arg, exec_arg=True) for arg in paths.run_args)])
    # "-": a folder missing at start (an unmounted share, a deleted data folder) is skipped instead of failing the
    # whole sandbox with the cryptic 226/NAMESPACE; the engine then names the folder it cannot create.
    rw = [_quote(f"-{path}") for path in [*writable_paths(config), *mode.extra_writable]]
    unit: list[tuple[str, str]] = [
        ("", "[Unit]"),
        ("", f"Description={DESCRIPTION}"),
    ]
    if not user:
        unit += [
            ("Watched folders may be network shares: start once the network is up.", "Wants=network-online.target"),
            ("", "After=network-online.target"),
        ]
    unit += [
        ("Stop restarting after 5 failures within 5 minutes: a broken install must not loop forever.", ""),
        ("", "StartLimitIntervalSec=300"),
        ("", "StartLimitBurst=5"),
        ("", ""),
        ("", "[Service]"),
        (
            "The engine sends READY=1 once workers, watchers and control API are up (daemon/runtime/notify.py).",
            "Type=notify",
        ),
        ("Only the engine itself may notify: exiftool and other children cannot change the service state.", ""),
        ("", "NotifyAccess=main"),
        ("The same entry point as `image-engine run`, with the config resolved at install time.", ""),
        ("", f"ExecStart={exec_start}"),
    ]
    if not user:
        unit += [("The dedicated account the engine runs as.", f"User={mode.account}"), ("", f"Group={mode.account}")]
    unit += [
        ("The engine pings at half this interval from its main loop, and stops pinging when a worker thread", ""),
        ("has died: systemd then kills and restarts it.", f"WatchdogSec={mode.watchdog_seconds}"),
        ("Restart after a crash or a watchdog timeout, not after a clean stop.", "Restart=on-failure"),
        ("", f"RestartSec={mode.restart_seconds}"),
        ("Exit code 2 is a bad config: restarting cannot fix it (`image-engine config check FILE` explains).", ""),
        ("", "RestartPreventExitStatus=2"),
        ("The first start runs the database migrations.", "TimeoutStartSec=120"),
        ("SIGTERM: running jobs finish or stay resumable; the engine exits within seconds.", ""),
        ("", f"TimeoutStopSec={mode.stop_timeout_seconds}"),
        ("SIGTERM to the engine only: it closes exiftool itself, never mid-write. SIGKILL for all at the timeout.", ""),
        ("", "KillMode=mixed"),
        ("Log lines reach the journal at once.", "Environment=PYTHONUNBUFFERED=1"),
        ("", ""),
        (f"--- Hardening. `systemd-analyze{' --user' if user else ''} security {UNIT_NAME}` rates it. ---", ""),
        ("New files (database, logs, token) are readable by the service's user only.", "UMask=0077"),
        ("No privilege gain through setuid/setgid programs or file capabilities.", "NoNewPrivileges=yes"),
    ]
    if user:
        unit += [("A user manager can set up the protections below only inside a user namespace.", "PrivateUsers=yes")]
    else:
        unit += [
            ("No PrivateUsers=: shared photo folders owned by other accounts keep their group access.", ""),
            ("System V IPC objects of the account are removed when the service stops.", "RemoveIPC=yes"),
        ]
    unit += [
        ("No Linux capabilities at all.", "CapabilityBoundingSet="),
        ("", "AmbientCapabilities="),
        ("The kernel keyring is the service's own.", "KeyringMode=private"),
    ]
    unit += [
        ("The whole file system is read-only ...", "ProtectSystem=strict"),
        ("... home folders too (the config file and the venv are only read) ...", "ProtectHome=read-only"),
        ("... except the data folder, the library, every watched folder (renames and metadata writes happen", ""),
        ('there) and model caches. A folder missing at start ("-") is skipped: restart once it exists.', ""),
        ("", f"ReadWritePaths={' '.join(rw)}"),
        _private_tmp([*writable_paths(config), *mode.extra_writable, *_program_paths(paths)]),
        ("Mounts made inside the service stay inside it.", "PrivateMounts=yes"),
        ("No writes to /proc/sys and /sys.", "ProtectKernelTunables=yes"),
        ("No loading of kernel modules.", "ProtectKernelModules=yes"),
        ("No access to the kernel log.", "ProtectKernelLogs=yes"),
        ("The cgroup tree is read-only.", "ProtectControlGroups=yes"),
        ("The system clock cannot be changed.", "ProtectClock=yes"),
        ("The host name cannot be changed.", "ProtectHostname=yes"),
        ("Other users' processes are invisible. (No ProcSubset=pid: the engine reads /proc/mounts to spot", ""),
        ("network shares and /proc/sys/fs/inotify to count its inotify watches.)", "ProtectProc=invisible"),
        ("Unix sockets (sd_notify) and IP (the loopback control API, model downloads) only.", ""),
        ("", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"),
        ("No new namespaces of any kind.", "RestrictNamespaces=yes"),
        ("No realtime scheduling.", "RestrictRealtime=yes"),
        ("No setuid/setgid files can be created.", "RestrictSUIDSGID=yes"),
        ("The execution domain (personality) is fixed.", "LockPersonality=yes"),
        ("Native system calls only, from the usual service set, none of the privileged ones; a refused", ""),
        ("call fails with EPERM instead of killing the engine.", "SystemCallArchitectures=native"),
        ("", "SystemCallFilter=@system-service"),
        ("", "SystemCallFilter=~@privileged"),
        ("(@resources stays allowed: torch and onnxruntime set thread affinity and priorities.)", ""),
        ("", "SystemCallErrorNumber=EPERM"),
        ("Off on purpose:", ""),
        ("  PrivateDevices=yes          would hide /dev/nvidia* and /dev/dri: no GPU for the tag stage.", ""),
        ("  MemoryDenyWriteExecute=yes  breaks the JIT code of torch (oneDNN) and onnxruntime.", ""),
        ("  PrivateNetwork=yes          the CLI and the tray reach the control API on loopback from outside.", ""),
        ("  IPAddressDeny=any           blocks model downloads on first use; once the models are in place, add", ""),
        ("                              it with IPAddressAllow=localhost in an override (system manager only).", ""),
        ("", ""),
        ("", "[Install]"),
        ("", f"WantedBy={'default.target' if user else 'multi-user.target'}"),
    ]
    out = [
        "# Image Engine, written by `image-engine service install`. Regenerate it with that command; keep your own",
        f"# changes in an override (`{ctl} edit {SERVICE_NAME}`), which survives a reinstall.",
    ]
    for comment, line in unit:
        if comment:
            out.append(f"# {comment}")
        if line or not comment:
            out.append(line)
    return "\n".join(out) + "\n"


def _private_tmp(needed: Sequence[PurePath]) -> tuple[str, str]:
    """PrivateTmp=yes hides the real /tmp and /var/tmp: off when the service needs anything there (its program,
    config, code or folders); otherwise ExecStart fails with 203/EXEC, which `systemd-analyze verify` misses."""
    shared = []
    for path in needed:
        if (path.parts[1:2] == ("tmp",) or path.parts[1:3] == ("var", "tmp")) and str(path) not in shared:
            shared.append(str(path))
    if shared:
        return (f"PrivateTmp= stays off: {', '.join(shared)} is under /tmp, which it would hide.", "")
    return ("A private /tmp, emptied when the service stops.", "PrivateTmp=yes")


def _program_paths(paths: ServicePaths) -> list[PurePath]:
    """What the service runs and reads at start: the entry point, its interpreter, the config file, the engine's
    code, each as written and (when it exists here) with its symlinks resolved."""
    import daemon

    found: list[PurePath] = []
    for path in (paths.executable, paths.python, paths.config_file, Path(daemon.__file__).parent):
        found.append(path)
        if isinstance(path, Path) and path.exists():
            found.append(path.resolve())
    return found


# Characters systemd refuses in an executable path ("contains special characters"); argv[0] is not unescaped.
_UNSAFE_EXEC = set("\"'\\$") | {chr(code) for code in range(32)} | {chr(127)}


def _exec_path(path: PurePath) -> str:
    text = str(path)
    if not PurePath(text).is_absolute():
        raise ServiceError(f"{text}: the service's executable needs an absolute path")
    bad = sorted({char for char in text if char in _UNSAFE_EXEC})
    if bad:
        raise ServiceError(f"{text}: systemd cannot run a program whose path contains {bad!r}: move the venv")
    return '"' + text.replace("%", "%%") + '"'


def _escape(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ServiceError(f"{text!r}: a path with a line break cannot go into a unit file")
    return text.replace("%", "%%")


def _quote(text: str, exec_arg: bool = False) -> str:
    """A double-quoted word for ExecStart= or ReadWritePaths= (C escapes, %% for specifiers, $$ in ExecStart)."""
    text = _escape(text)
    if exec_arg:
        text = text.replace("$", "$$")
    if text and all(char.isalnum() or char in "-_./:=@+,%$" for char in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- install / uninstall / status -------------------------------------------------------------------------------


def systemd_running() -> bool:
    """sd_booted(): systemd is the init system of this machine (false in containers like this one)."""
    return Path("/run/systemd/system").is_dir()


@dataclass(frozen=True)
class Plan:
    unit_path: Path
    unit_text: str
    mode: Mode

    @property
    def install_commands(self) -> list[list[str]]:
        return [[*self.mode.systemctl, "daemon-reload"], [*self.mode.systemctl, "enable", "--now", UNIT_NAME]]

    @property
    def uninstall_commands(self) -> list[list[str]]:
        return [[*self.mode.systemctl, "disable", "--now", UNIT_NAME], [*self.mode.systemctl, "daemon-reload"]]

    @property
    def status_command(self) -> list[str]:
        return [*self.mode.systemctl, "status", "--no-pager", "--lines=20", UNIT_NAME]


def make_plan(config: Config, paths: ServicePaths, mode: Mode, target_dir: Path | None = None) -> Plan:
    directory = target_dir if target_dir is not None else unit_dir(mode)
    return Plan(directory / UNIT_NAME, render_unit(config, paths, mode), mode)


def shell(command: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(part) for part in command)


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=False)


class Installer:
    """Carries out a Plan: writes or removes the unit and drives systemctl.

    Without systemd (or with print_only) it writes nothing and prints the unit and the exact commands instead,
    unless the unit directory was chosen explicitly (packaging, tests): then the unit file is written or removed
    there and only the systemctl part is printed.
    """

    def __init__(
        self,
        plan: Plan,
        booted: bool,
        print_only: bool = False,
        explicit_dir: bool = False,
        runner: Runner = _run,
        out: Callable[[str], None] = print,
    ):
        self.plan = plan
        self.booted = booted
        self.print_only = print_only
        self.touch_files = not print_only and (booted or explicit_dir)
        self.runner = runner
        self.out = out

    def install(self, create_dirs: Sequence[Path] = (), owner: tuple[int, int] | None = None) -> int:
        """Write the unit and enable it. `create_dirs` (data folder, library) must exist before the first start:
        a read-only file system cannot create them; `owner` (uid, gid) gets the folders this creates."""
        plan = self.plan
        if not self.touch_files:
            if not self.print_only:
                self._no_systemd("nothing was written")
            self.out(f"# ---- {plan.unit_path} ----")
            self.out(plan.unit_text)
            self.out("# ---- on a machine running systemd, install it with: ----")
            self.out(shell(["mkdir", "-p", str(plan.unit_path.parent)]))
            self.out(f"# save the unit above as {shell([str(plan.unit_path)])}, then:")
            self._print(plan.install_commands)
            return 0
        for folder in create_dirs:
            _make_dir(Path(folder), owner)
        plan.unit_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = plan.unit_path.with_name(plan.unit_path.name + ".tmp")
        temporary.write_text(plan.unit_text, encoding="utf-8")
        temporary.chmod(0o644)
        temporary.replace(plan.unit_path)
        self.out(f"wrote {plan.unit_path}")
        if not self.booted:
            self._no_systemd("the unit was written but not enabled")
            self._print(plan.install_commands)
            return 0
        return self._run_all(plan.install_commands)

    def uninstall(self) -> int:
        plan = self.plan
        if not self.touch_files:
            if not self.print_only:
                self._no_systemd("nothing was removed")
            self.out("# ---- on a machine running systemd, remove the service with: ----")
            self._print([plan.uninstall_commands[0], ["rm", "-f", str(plan.unit_path)], plan.uninstall_commands[1]])
            return 0
        if self.booted:
            self._run_all(plan.uninstall_commands[:1], tolerate=True)  # not enabled or not loaded: still remove
        if plan.unit_path.exists():
            plan.unit_path.unlink()
            self.out(f"removed {plan.unit_path}")
        else:
            self.out(f"{plan.unit_path} was not installed")
        if not self.booted:
            self._no_systemd("only the unit file was removed")
            self._print(plan.uninstall_commands)
            return 0
        return self._run_all(plan.uninstall_commands[1:])

    def status(self) -> int:
        """systemctl's view; without systemd, whether the unit file is there. Exit 3 when not running."""
        plan = self.plan
        installed = plan.unit_path.exists()
        self.out(f"unit file: {plan.unit_path} ({'installed' if installed else 'not installed'})")
        if not self.booted:
            self._no_systemd("no service state to show")
            self._print([plan.status_command])
            return 3
        result = self.runner(plan.status_command)
        self.out(((result.stdout or "") + (result.stderr or "")).rstrip())
        return result.returncode

    def _no_systemd(self, what: str) -> None:
        self.out(f"systemd is not running on this machine (no /run/systemd/system): {what}.")

    def _print(self, commands: Sequence[Sequence[str]]) -> None:
        for command in commands:
            self.out(shell(command))

    def _run_all(self, commands: Sequence[Sequence[str]], tolerate: bool = False) -> int:
        for command in commands:
            self.out(f"$ {shell(command)}")
            result = self.runner(command)
            text = ((result.stdout or "") + (result.stderr or "")).strip()
            if text:
                self.out(text)
            if result.returncode != 0 and not tolerate:
                raise ServiceError(f"`{shell(command)}` failed with exit code {result.returncode}: {text}")
        return 0


def _make_dir(folder: Path, owner: tuple[int, int] | None) -> None:
    missing = [folder, *folder.parents]
    missing = [path for path in missing if not path.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        for path in missing:
            os.chown(path, *owner)
