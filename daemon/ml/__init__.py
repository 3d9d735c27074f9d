"""Model loading and inference sessions: the only package that imports torch, transformers or onnxruntime.

Backends are picked by name from `[tagging] backend`; heavy imports happen inside `load()`, never at import.
"""
