"""The ``[code_verifier]`` config table and its defaults.

The defaults suit data analysis. Two choices are worth knowing:

* ``pathlib`` is allowed and ``open`` is not. File access is not what the verifier guards:
  pandas alone reads and writes any path the kernel can reach, so the boundary is the
  kernel's process (its own working directory, resource limits and, where available, an OS
  sandbox). Blocking ``open`` steers the model to explicit, reviewable I/O
  (``pd.read_csv``, ``Path.read_text``) rather than claiming to stop it.
* ``sqlite3`` is not allowed: it can load native extensions (``load_extension``) and write
  database files. Reading a database goes through the ``sql_pull_data`` plugin of
  ``weaver-data-plugins``, which opens it read-only. Add ``"sqlite3"`` to
  ``extra_allowed_imports`` to let generated code use it directly.
"""

from __future__ import annotations

import attrs

DEFAULT_ALLOWED_IMPORTS: tuple[str, ...] = (
    # data analysis
    "pandas",
    "numpy",
    "matplotlib",
    "scipy",
    "sklearn",
    "statsmodels",
    "seaborn",
    "plotly",
    # standard library: computation, text, dates and structure
    "math",
    "cmath",
    "statistics",
    "random",
    "decimal",
    "fractions",
    "numbers",
    "datetime",
    "time",
    "calendar",
    "zoneinfo",
    "json",
    "csv",
    "io",
    "re",
    "string",
    "textwrap",
    "collections",
    "itertools",
    "functools",
    "operator",
    "heapq",
    "bisect",
    "copy",
    "enum",
    "typing",
    "dataclasses",
    "pprint",
    "warnings",
    "hashlib",
    "base64",
    "uuid",
    "pathlib",
)
"""Modules generated code may import; each entry also allows its submodules."""

DEFAULT_BLOCKED_MODULES: tuple[str, ...] = (
    "numpy.f2py",
    "numpy.distutils",
    "numpy.ctypeslib",
    "pandas.io.clipboard",
)
"""Submodules of allowed packages that compile or run native code or start processes."""

DEFAULT_BLOCKED_BUILTINS: tuple[str, ...] = (
    "eval",
    "exec",
    "compile",
    "open",
    "input",
    "breakpoint",
    "__import__",
    "globals",
    "locals",
    "vars",
    "exit",
    "quit",
)

DEFAULT_SAFE_DUNDERS: tuple[str, ...] = (
    "__name__",
    "__qualname__",
    "__doc__",
    "__module__",
    "__version__",
)
"""Dunder attributes that only describe an object; every other dunder is blocked
(``super().__init__`` inside a class is allowed as well)."""

DEFAULT_DANGEROUS_ATTRIBUTES: tuple[str, ...] = (
    "os",
    "sys",
    "subprocess",
    "shutil",
    "socket",
    "ctypes",
    "ctypeslib",
    "importlib",
    "builtins",
    "pty",
    "multiprocessing",
    "posix",
    "nt",
    "f2py",
)
"""Module names that must not be reached as an attribute of another object
(``pd.io.common.os``); leading underscores are ignored, so ``_os`` counts too."""

DEFAULT_FRAME_ATTRIBUTES: tuple[str, ...] = (
    "gi_frame",
    "gi_code",
    "cr_frame",
    "cr_code",
    "ag_frame",
    "ag_code",
    "f_globals",
    "f_locals",
    "f_builtins",
    "f_back",
    "f_code",
    "tb_frame",
)
"""Attributes of generators, coroutines, frames and tracebacks that reach interpreter internals."""

DEFAULT_BLOCKED_MEMBERS: tuple[str, ...] = ("io.open", "io.open_code", "io.FileIO", "string.Formatter")
"""Members of allowed modules that are a blocked builtin under another name (``io.open``) or
read attributes named by a string (``string.Formatter``)."""

DEFAULT_ALLOWED_MAGICS: tuple[str, ...] = ("matplotlib inline",)


@attrs.frozen
class CodeVerifierConfig:
    """``[code_verifier]``: what generated code may import, call and reach.

    ``allowed_magics`` entries are a magic name and an optional argument prefix:
    ``"matplotlib inline"`` allows exactly ``%matplotlib inline``; ``"pip install"``
    allows ``%pip install`` of plain requirement specifiers (no options, files or URLs).
    """

    enabled: bool = True
    allowed_imports: tuple[str, ...] = DEFAULT_ALLOWED_IMPORTS
    extra_allowed_imports: tuple[str, ...] = ()
    """Added to ``allowed_imports``, so a project can extend the defaults without repeating them."""
    blocked_modules: tuple[str, ...] = DEFAULT_BLOCKED_MODULES
    blocked_builtins: tuple[str, ...] = DEFAULT_BLOCKED_BUILTINS
    safe_dunders: tuple[str, ...] = DEFAULT_SAFE_DUNDERS
    dangerous_attributes: tuple[str, ...] = DEFAULT_DANGEROUS_ATTRIBUTES
    frame_attributes: tuple[str, ...] = DEFAULT_FRAME_ATTRIBUTES
    blocked_members: tuple[str, ...] = DEFAULT_BLOCKED_MEMBERS
    allowed_magics: tuple[str, ...] = DEFAULT_ALLOWED_MAGICS

    @property
    def imports(self) -> tuple[str, ...]:
        """Every allowed import: the list and the project's additions."""
        return (*self.allowed_imports, *self.extra_allowed_imports)
