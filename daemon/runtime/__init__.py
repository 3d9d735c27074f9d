"""Runtime: the composition root that builds the engine from a Config, plus the process concerns around it.

Run lock (one engine per data folder), logging set-up, systemd notify, signal handling.
"""
