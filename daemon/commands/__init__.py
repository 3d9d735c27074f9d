"""Client subcommands of features beyond the spine, one module each, registered into `daemon.cli`.

Each module appends a parser builder to `cli.EXTENSIONS` and registers its handlers with `@cli.command`.
"""
