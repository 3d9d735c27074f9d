"""`image-engine ...`: one parser, built here from an explicit list of command modules, and the exit codes.

Exit codes: 0 ok, 1 runtime failure, 2 bad config or usage, 3 service not reachable (daemon.errors).
"""

from __future__ import annotations

import argparse
import os
import sys
from types import ModuleType

from daemon.commands import base, dedup, engine, learn, people, rename, search, service, tagging, tray, ui
from daemon.errors import EXIT_CONFIG, EXIT_RUNTIME, EXIT_UNREACHABLE, ConfigError, EngineError

EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a Unix tool ended by SIGPIPE (`yes | head -1`)
# Every subcommand comes from one of these modules, in this order in `--help`.
COMMAND_MODULES: tuple[ModuleType, ...] = (engine, tagging, search, learn, dedup, rename, people, service, tray, ui)


def commands() -> dict[str, base.Command]:
    """Handler by command name ("config check" for the nested one)."""
    table: dict[str, base.Command] = {}
    for module in COMMAND_MODULES:
        table.update(module.COMMANDS)
    return table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="image-engine", description="Keeps a photo library tagged and in order.")
    parser.add_argument("--config", help="config file (default: $IMAGE_ENGINE_CONFIG or the user config folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.add_parsers(sub)
    _accept_config_after_the_command(sub)
    from daemon.commands.help import describe

    describe(parser)
    return parser


def _accept_config_after_the_command(sub: argparse._SubParsersAction) -> None:
    """`image-engine run --config my.toml` as well as `image-engine --config my.toml run` (git-style CLIs allow
    both). SUPPRESS: a subcommand without the flag leaves the one given before the subcommand in place."""
    for subparser in set(sub.choices.values()):
        if "--config" not in subparser._option_string_actions:  # `service install` has its own
            subparser.add_argument("--config", default=argparse.SUPPRESS, help="config file (as before the command)")
        for action in subparser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _accept_config_after_the_command(action)


def main(argv: list[str] | None = None) -> int:
    """Run one command; a reader that went away (`image-engine jobs | head -1`) ends it quietly, like Unix tools."""
    try:
        code = dispatch(argv)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not as a warning at interpreter exit
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's exit-time flush of stdout then has nowhere to fail
        return EXIT_BROKEN_PIPE


def dispatch(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    name = args.command if args.command != "config" else f"config {args.config_command}"
    from daemon.control.client import ApiError, ServiceUnreachable

    try:
        return commands()[name](args)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return EXIT_CONFIG
    except ServiceUnreachable as exc:
        print(f"image-engine: {exc}. Start it with `image-engine run`.", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ApiError as exc:
        print(f"image-engine: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except EngineError as exc:
        print(f"image-engine: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
