"""Rename templates and the journaled moves that file photos: parsed at config load, rendered to safe
relative paths, executed (and undone) through the journal in the store.
"""
