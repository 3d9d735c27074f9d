"""`image-engine service install|uninstall|status`: the engine as a systemd unit or a Windows service.

The work is done by the `service` package; this module only parses arguments and resolves the config.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from daemon.commands import base
from daemon.config import Config, default_config_path, load_config


def add_parsers(sub: Any) -> None:
    service = sub.add_parser("service", help="install, remove or inspect the system service")
    actions = service.add_subparsers(dest="service_command", required=True)
    for name, text in (
        ("install", "write the service definition and start it at boot"),
        ("uninstall", "stop the service and remove its definition"),
        ("status", "the service manager's view of the service"),
    ):
        action = actions.add_parser(name, help=text)
        scope = action.add_mutually_exclusive_group()
        scope.add_argument("--user", dest="scope", action="store_const", const="user", help="systemd user unit")
        scope.add_argument(
            "--system",
            dest="scope",
            action="store_const",
            const="system",
            help="systemd system unit, dedicated account",
        )
        action.set_defaults(scope="user")
        action.add_argument("--config", default=argparse.SUPPRESS, help="config file the service runs with")
        action.add_argument("--account", default="image-engine", help="--system: the account it runs as")
        action.add_argument("--unit-dir", type=Path, help="write the unit here instead of the systemd folder")
        action.add_argument(
            "--exec", dest="executable", type=Path, help="the image-engine program to run (default: this venv's)"
        )
        action.add_argument("--winsw", action="store_true", help="Windows: a WinSW definition instead of pywin32")
        action.add_argument("--out", type=Path, help="Windows/WinSW: folder for the generated XML")
        if name != "status":
            action.add_argument("--print", dest="print_only", action="store_true", help="only print, change nothing")


def service_command(args: argparse.Namespace) -> int:
    from service import ServiceError

    try:
        if os.name == "nt":
            return _windows(args)
        if args.winsw:
            raise ServiceError("--winsw builds a Windows service definition: run it on Windows")
        return _systemd(args)
    except ServiceError as exc:
        print(f"image-engine: {exc}", file=sys.stderr)
        return base.EXIT_RUNTIME


def _config_file(args: argparse.Namespace) -> Path:
    from service import ServiceError

    path = base.config_path(args)
    if path is None:
        raise ServiceError(
            "the service needs a config file: pass --config FILE or create "
            f"{default_config_path()} (config.example.toml documents every key)"
        )
    return path.absolute()


def _systemd(args: argparse.Namespace) -> int:
    """install renders the unit from the config; uninstall and status only need where the unit lives, so they
    work without a config (and after it was deleted)."""
    from service import systemd

    mode = systemd.Mode(scope=args.scope, account=args.account)
    print_only = getattr(args, "print_only", False)
    booted = systemd.systemd_running()
    if args.service_command != "install":
        plan = systemd.Plan((args.unit_dir or systemd.unit_dir(mode)) / systemd.UNIT_NAME, "", mode)
        installer = systemd.Installer(plan, booted, print_only=print_only, explicit_dir=args.unit_dir is not None)
        return installer.uninstall() if args.service_command == "uninstall" else installer.status()
    config, owner, caches = _load_as_service_account(args, mode, print_only)
    mode = systemd.Mode(scope=mode.scope, account=mode.account, extra_writable=caches)
    plan = systemd.make_plan(config, _paths(args), mode, args.unit_dir)
    installer = systemd.Installer(plan, booted, print_only=print_only, explicit_dir=args.unit_dir is not None)
    code = installer.install(create_dirs=[config.data_dir, config.library.root], owner=owner)
    if code == 0 and installer.touch_files and booted and mode.scope == "user":
        print("To start it at boot without logging in: sudo loginctl enable-linger " + _user_name())
    return code


def _paths(args: argparse.Namespace) -> Any:
    from service import venv_paths

    return venv_paths(_config_file(args), args.executable)


def _load_as_service_account(
    args: argparse.Namespace, mode: Any, print_only: bool
) -> tuple[Config, tuple[int, int] | None, tuple[Path, ...]]:
    """The config as the service will see it: under --system, with the account's HOME and no XDG variables
    (what the system manager gives a service), so `~` and the default data folder are the account's."""
    from service import ServiceError, systemd

    config_file = _config_file(args)
    owner = None
    environ = dict(os.environ)
    if mode.scope == "system":
        account = _account(args.account)
        if account is not None:
            owner = (account.pw_uid, account.pw_gid)
            environ = {"HOME": account.pw_dir, "PATH": os.environ.get("PATH", "")}
        else:
            problem = (
                f"no account {args.account!r}: create it first, e.g. `sudo useradd --system --create-home "
                f"--home-dir /var/lib/{args.account} --shell /usr/sbin/nologin {args.account}`, "
                "and give it read access to the config file and the venv, and write access to the photo folders"
            )
            if not print_only:
                raise ServiceError(problem)
            print(f"image-engine: warning: {problem}", file=sys.stderr)
        if os.geteuid() != 0 and not print_only and args.unit_dir is None:
            raise ServiceError(f"--system writes to {systemd.SYSTEM_UNIT_DIR}: run it with sudo")
    with _environment(environ):
        return load_config(config_file), owner, tuple(systemd.model_cache_paths())


def _account(name: str) -> Any:
    import pwd

    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


@contextlib.contextmanager
def _environment(environ: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _user_name() -> str:
    import getpass

    return getpass.getuser()


def _windows(args: argparse.Namespace) -> int:
    """pywin32 by default, WinSW with --winsw (or when pywin32 is missing). Only install and a WinSW uninstall
    (which needs the XML's folder) read the config."""
    from service import windows

    print_only = getattr(args, "print_only", False)
    if args.service_command == "status":
        return windows.status()
    if args.service_command == "uninstall" and (not args.winsw or args.out):
        return windows.uninstall(use_winsw=args.winsw, out_dir=args.out or Path("."), print_only=print_only)
    config = load_config(_config_file(args))
    out_dir = args.out or (config.data_dir / "service")
    if args.service_command == "uninstall":
        return windows.uninstall(use_winsw=True, out_dir=out_dir, print_only=print_only)
    return windows.install(_paths(args), config, use_winsw=args.winsw, out_dir=out_dir, print_only=print_only)


COMMANDS: dict[str, base.Command] = {"service": service_command}
