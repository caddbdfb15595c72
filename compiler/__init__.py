"""The compot compiler: AST -> SymPy -> symbolic derivatives -> C/Cython kernel source."""
