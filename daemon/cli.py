"""`image-engine ...`: one parser, built here from an explicit list of command modules, and the exit codes.

Exit codes: 0 ok, 1 runtime failure, 2 bad config or usage, 3 service not reachable (daemon.errors).
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from daemon.commands import base, dedup, engine, learn, rename, service, tagging, tray
from daemon.errors import EXIT_CONFIG, EXIT_RUNTIME, EXIT_UNREACHABLE, ConfigError, EngineError

# Every subcommand comes from one of these modules, in this order in `--help`.
COMMAND_MODULES: tuple[ModuleType, ...] = (engine, tagging, learn, dedup, rename, service, tray)


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
    return parser


def main(argv: list[str] | None = None) -> int:
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
