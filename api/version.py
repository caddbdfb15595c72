"""The compot version (a leaf module: importable from every layer without cycles)."""

__version__ = "0.2.0"
