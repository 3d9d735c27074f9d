"""Faces and people: grouping faces into people, the user's corrections, and names written into the files.

The detection stage is daemon/pipeline/faces.py; the SQL is in daemon/store/faces.py and daemon/store/people.py.
"""
