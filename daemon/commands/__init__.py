"""The CLI's subcommands, one module per feature: each has `add_parsers(sub)` and a `COMMANDS` table.

`daemon.cli` lists the modules explicitly and builds the one parser from them; nothing registers on import.
"""
