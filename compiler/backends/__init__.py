"""Code-generation targets, one sub-package each (see README.md in this folder):

- ``c``: the physics as C (printer, model template) plus the passes every target calls;
- ``cython``: the C wrapped as a Python extension module (the runtime's kernels);
- ``lammps``: a LAMMPS plugin pair style with trained parameters compiled in;
- ``standalone``: sources that build without compot (``compot compile``);
- ``mpmath``: the symbolic forms evaluated at arbitrary precision (``fim --extended``).

Each returns ``{filename: text}`` and does no I/O.
"""
