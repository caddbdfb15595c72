"""Version of the code generator (importable without SymPy, for the kernel cache key)."""

#: bump when the generated code changes meaning (part of the kernel cache key)
GENERATOR_VERSION = "2"
