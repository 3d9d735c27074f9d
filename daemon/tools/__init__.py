"""Wrappers around external programs the engine runs (exiftool).

Each program is started in exactly one module here, never elsewhere.
"""
