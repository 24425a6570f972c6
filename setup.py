"""Build script: the Cython core of the EXI codec, and the XSDs as package data.

The XSDs live once, in ``schemas/`` at the top of the repository; the build copies
them into the ``iso15118`` package so an installed wheel finds them too.
"""

import os
import shutil

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithSchemas(build_py):
    def run(self) -> None:
        super().run()
        src = os.path.join(HERE, "schemas")
        dst = os.path.join(self.build_lib, "iso15118", "_schemas")
        if os.path.isdir(src):
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst)


extensions = [
    Extension(
        "exi_codec._core",
        ["src/exi_codec/_core.pyx"],
        extra_compile_args=["-O2"],
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": True,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
    cmdclass={"build_py": BuildPyWithSchemas},
)
