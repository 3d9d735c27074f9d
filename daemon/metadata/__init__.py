"""Keywords, category and caption written into photos (or XMP sidecars) so every photo tool reads them.

`plan` merges what the file has with what the engine found; `targets`, `guard` and `fallback` do the writing.
"""
