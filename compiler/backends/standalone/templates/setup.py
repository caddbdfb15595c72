"""Build the compot kernel ${name} without compot: python setup.py build_ext --inplace"""
from setuptools import Extension, setup
from Cython.Build import cythonize

setup(
    name="${name}",
    ext_modules=cythonize([Extension("${name}", ["${name}.pyx"], extra_compile_args=["-O3"])],
                          language_level=3),
)
