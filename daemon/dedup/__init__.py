"""Duplicate detection without SQL or threads: the in-memory hash index, pair judgement, grouping and keepers.

The dedup stage (daemon/pipeline/dedup.py) and the dedup recorder (daemon/store/dedup.py) both build on these.
"""
