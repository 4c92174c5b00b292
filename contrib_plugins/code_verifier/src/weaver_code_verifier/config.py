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
    # standard library: harmless helpers ordinary code reaches for (none runs a program,
    # imports by name, unpickles or evaluates strings)
    "queue",
    "stat",
    "unicodedata",
    "difflib",
    "array",
    "struct",
    "binascii",
    "zlib",
    "colorsys",
    "abc",
    "contextlib",
    "graphlib",
    "ipaddress",
    "shlex",
    "fnmatch",
    "html",
    "keyword",
    "secrets",
    "hmac",
    "tomllib",
)
"""Modules generated code may import; each entry also allows its submodules.

Deliberately absent: ``types`` (``types.CodeType`` and ``types.FunctionType`` build and run
raw bytecode), ``inspect`` and ``gc`` (they hand out frames, globals and every live object),
``pickle``/``shelve``/``marshal`` (loading runs code), ``importlib``/``pkgutil``/``runpy``
(import or run anything by name), ``os``/``sys``/``subprocess``/``shutil``/``socket``,
``ctypes``, ``logging`` (``logging.config`` builds objects named in strings), ``tempfile``
and ``glob`` (files belong to pandas and pathlib), ``threading``/``multiprocessing``/
``concurrent`` and ``asyncio`` (processes and event loops of their own)."""

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
    "extbuild",
    "distutils",
    "setuptools",
    "ensurepip",
    # loading these runs code: pickles and their kin
    "pickle",
    "cPickle",
    "pickle_compat",
    "smpickle",
    "copyreg",
    "marshal",
    "shelve",
    "dill",
    "cloudpickle",
    "joblib",
    # they import, compile or run code named in a string, or hand out frames and objects
    "codecs",
    "runpy",
    "codeop",
    "pdb",
    "pydoc",
    "pkgutil",
    "zipimport",
    "inspect",
    "gc",
    "logging",
    "unittest",
    "webbrowser",
    "numexpr",
)
"""Module names that must not be reached as an attribute of another object
(``pd.io.common.os``, ``pd.io.pickle.pickle``, ``np.lib.format.pickle``,
``pandas.compat.pickle_compat``, ``pandas.io.common.codecs``, ``matplotlib.inspect``);
leading underscores are ignored, so ``_os`` counts too. Names that are also common column
or attribute names (``code``, ``signal``, ``site``, ``types``) are left out: ``scipy.signal``
and ``pd.api.types`` are ordinary analysis code."""

DEFAULT_BLOCKED_ATTRIBUTES: tuple[str, ...] = (
    "import_optional_dependency",
    "import_module",
    "resolve_name",
    "read_pickle",
    "load_pickle",
    "Unpickler",
    "patch_pickle",
    "read_clipboard",
    "to_clipboard",
    "get_type_hints",
    "build_and_import_extension",
)
"""Functions of allowed packages that import a module named in a string
(``pd.io.parquet.import_optional_dependency("os")``), unpickle a file (``pd.read_pickle``:
a pickle runs code when loaded), start a process (``pd.read_clipboard`` runs xclip),
evaluate string annotations (``typing.get_type_hints``) or compile C
(``np.testing.extbuild``), refused however they are reached."""

DEFAULT_SAFE_PRIVATE_ATTRIBUTES: tuple[str, ...] = ("_asdict", "_replace", "_fields", "_make", "_field_defaults")
"""Underscore attributes that are public API: a named tuple's (``row._asdict()`` for a row of
``df.itertuples()``). Every other ``_`` attribute is refused, except those a class of the
cell defines and uses on ``self``/``cls`` inside its own methods."""

DEFAULT_BLOCKED_SETTINGS: tuple[str, ...] = (
    "animation.ffmpeg_path",
    "animation.convert_path",
    "animation.ffmpeg_args",
    "animation.convert_args",
)
"""matplotlib settings that name a program to run (saving an animation starts it), refused
as strings (``plt.rcParams["animation.ffmpeg_path"] = ...``) and as keywords
(``plt.rc("animation", ffmpeg_path=...)``); so is a ``"module://..."`` backend, which
imports a module named in a string."""

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

DEFAULT_BLOCKED_MEMBERS: tuple[str, ...] = (
    "io.open",
    "io.open_code",
    "io.FileIO",
    "string.Formatter",
    "statsmodels.api.load",
)
"""Members of allowed modules that are a blocked builtin under another name (``io.open``),
read attributes named by a string (``string.Formatter``) or unpickle a file
(``statsmodels.api.load``)."""

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
    blocked_attributes: tuple[str, ...] = DEFAULT_BLOCKED_ATTRIBUTES
    safe_private_attributes: tuple[str, ...] = DEFAULT_SAFE_PRIVATE_ATTRIBUTES
    blocked_settings: tuple[str, ...] = DEFAULT_BLOCKED_SETTINGS
    allowed_magics: tuple[str, ...] = DEFAULT_ALLOWED_MAGICS

    @property
    def imports(self) -> tuple[str, ...]:
        """Every allowed import: the list and the project's additions."""
        return (*self.allowed_imports, *self.extra_allowed_imports)
