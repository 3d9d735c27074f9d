"""Image Engine: the engine package (watch, queue, stages, control API).

Importing it is cheap: heavy libraries load lazily where they are used.
"""

__version__ = "0.1.0"
