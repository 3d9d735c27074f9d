"""One search over everything the engine knows about a photo: query parsing and merging with CLIP similarity.

The full-text index itself (FTS5, its SQL and triggers) lives in daemon/store/search.py.
"""
