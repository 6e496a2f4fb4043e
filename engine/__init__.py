"""cxr-explain engine: radiograph I/O, models and explanations. Never imports Qt."""

__version__ = "0.1.0"
