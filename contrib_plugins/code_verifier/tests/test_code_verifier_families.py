"""Escape families beyond names: strings a library evaluates, pattern matching, private
attributes, modules reached as attributes of allowed modules, and the import allowlist."""

from __future__ import annotations

import collections
import importlib
import sys
import types

import pytest

from weaver_code_verifier import CodeVerifierConfig, verify
from weaver_code_verifier.config import DEFAULT_DANGEROUS_ATTRIBUTES


def rules(code: str) -> list[tuple[int, str]]:
    return [(v.line, v.rule) for v in verify(code)]


REFUSED = [
    # strings pandas evaluates
    ("query reaching a module through @", "import pandas as pd\ndf.query('a > @pd.io.common.os.getcwd()')",
     [(2, "dangerous-attribute"), (2, "pandas-expression"), (2, "pandas-expression")]),
    ("query with an @-module", "import numpy as np\ndf.query('a > @np')", [(2, "pandas-expression")]),
    ("query calling an @-variable", "df.query('a > @f(1)')", [(1, "pandas-expression")]),
    ("query reading an @-attribute", "df.query('a > @limits.high')", [(1, "pandas-expression")]),
    ("query with a dunder walk", "df.query('a.__class__.__init__ > 1')", [(1, "dunder-attribute"), (1, "dunder-attribute")]),
    ("query from an f-string", "df.query(f'year == {year}')", [(1, "pandas-expression")]),
    ("query from a variable", "expr = 'a > 1'\ndf.query(expr)", [(2, "pandas-expression")]),
    ("query from a concatenation", "df.query('a > ' + limit)", [(1, "pandas-expression")]),
    ("query by keyword", "df.query(expr='a.__dict__')", [(1, "dunder-attribute")]),
    ("eval assignment with a builtin", "df.eval('c = @open')", [(1, "blocked-builtin")]),
    ("multi-line eval", "df.eval('''\n    c = a + b\n    d = a.__class__\n''')", [(1, "dunder-attribute")]),
    ("pd.eval with a builtin name", "import pandas as pd\npd.eval('get_ipython().system(\"id\")')",
     [(2, "shell-command")]),
    ("pd.eval of a private attribute", "import pandas\npandas.eval('x._mgr')", [(2, "private-attribute")]),
    ("pd.eval imported under another name", "from pandas import eval as pe\npe('exec(\"1\")')", [(2, "blocked-builtin")]),
    ("the unbound method", "import pandas as pd\npd.DataFrame.query(df, 'a > @m.x')", [(2, "pandas-expression")]),
    ("a scope that walks up the frames", "df.query('a > @x', level=2)", [(1, "pandas-expression")]),
    ("a scope of its own", "df.eval('a + b', local_dict={'a': 1})", [(1, "pandas-expression")]),
    ("an expression that does not parse", "df.query('a >> > 1')", [(1, "pandas-expression")]),
    ("a statement in the expression", "df.eval('import os')", [(1, "pandas-expression")]),
    # match
    ("class pattern reading __class__", "match x:\n    case object(__class__=c):\n        pass", [(2, "dunder-attribute")]),
    ("class pattern reading __globals__", "match f:\n    case object(__globals__=g):\n        pass", [(2, "dunder-attribute")]),
    ("class pattern reading a private attribute", "match x:\n    case Point(_secret=s):\n        pass", [(2, "private-attribute")]),
    ("class pattern reading a frame", "match g:\n    case object(gi_frame=f):\n        pass", [(2, "frame-introspection")]),
    ("class pattern reading a module", "import pandas as pd\nmatch pd.io.common:\n    case object(os=o):\n        pass",
     [(3, "dangerous-attribute")]),
    ("capture into a dunder name", "match x:\n    case __builtins__:\n        pass", [(2, "dunder-name")]),
    ("mapping rest into a dunder name", "match x:\n    case {**__dict__}:\n        pass", [(2, "dunder-name")]),
    ("value pattern through a module", "import numpy as np\nmatch x:\n    case np.lib.format.pickle:\n        pass",
     [(3, "dangerous-attribute")]),
    ("match_args of one's own", "class P:\n    __match_args__ = ('__class__',)", [(2, "dunder-name")]),
    # private attributes
    ("license's name-mangled filenames", "license._Printer__filenames", [(1, "private-attribute")]),
    ("a single-underscore attribute", "df._mgr.blocks", [(1, "private-attribute")]),
    ("a private helper of pandas", "df._get_numeric_data()", [(1, "private-attribute")]),
    ("a private module reached", "import pandas as pd\npd._libs.lib", [(2, "private-attribute")]),
    ("a private submodule imported", "import pandas._libs", [(1, "private-attribute")]),
    ("a private name imported", "from pandas.io.common import _compression_to_extension", [(1, "private-attribute")]),
    ("another object's private attribute inside a method", "class A:\n    def m(self, other):\n        return other._x",
     [(3, "private-attribute")]),
    ("a mangled name a class defines itself",
     "class A:\n    _Printer__filenames = []\n    def m(self):\n        return self._Printer__filenames",
     [(4, "private-attribute")]),
    ("a private attribute the class never defines", "class A:\n    def m(self):\n        return self._secret",
     [(3, "private-attribute")]),
    ("a static method's first argument", "class A:\n    _x = 1\n    @staticmethod\n    def m(o):\n        return o._x",
     [(5, "private-attribute")]),
    ("getattr of a private name", "getattr(df, '_mgr')", [(1, "dynamic-attribute")]),
    # modules and gadgets reached through allowed modules
    ("pickle through pandas", "import pandas as pd\npd.io.pickle.pickle.loads(data)",
     [(2, "dangerous-attribute"), (2, "dangerous-attribute")]),
    ("pickle through numpy", "import numpy as np\nnp.lib.format.pickle.loads(data)", [(2, "dangerous-attribute")]),
    ("pickle_compat", "import pandas\npandas.compat.pickle_compat.loads(data)", [(2, "dangerous-attribute")]),
    ("codecs", "import pandas as pd\npd.io.common.codecs.open('x')", [(2, "dangerous-attribute")]),
    ("os through matplotlib", "import matplotlib\nmatplotlib.cbook.os.system('id')", [(2, "dangerous-attribute")]),
    ("inspect through matplotlib", "import matplotlib\nmatplotlib.inspect.currentframe()", [(2, "dangerous-attribute")]),
    ("gc and marshal", "import numpy as np\nnp.testing.gc.get_objects()", [(2, "dangerous-attribute")]),
    ("an import by name", "import pandas as pd\npd.io.parquet.import_optional_dependency('os')", [(2, "blocked-attribute")]),
    ("an import by name, imported", "from pandas.io.sql import import_optional_dependency", [(1, "blocked-attribute")]),
    ("read_pickle", "import pandas as pd\npd.read_pickle('model.pkl')", [(2, "blocked-attribute")]),
    ("np.load with pickles", "import numpy as np\nnp.load('a.npy', allow_pickle=True)", [(2, "blocked-attribute")]),
    ("statsmodels' pickle loader", "import statsmodels.api as sm\nsm.load('m.pickle')", [(2, "blocked-member")]),
    ("the clipboard starts a process", "import pandas as pd\npd.read_clipboard()", [(2, "blocked-attribute")]),
    ("io.open through an allowed module", "import pandas as pd\npd.io.xml.io.open('/etc/passwd')", [(2, "blocked-member")]),
    ("typing evaluates strings", "import typing\ntyping.get_type_hints(f)", [(2, "blocked-attribute")]),
    ("compiling C through numpy", "import numpy as np\nnp.testing.extbuild.build_and_import_extension('m', [])",
     [(2, "blocked-attribute"), (2, "dangerous-attribute")]),
    # other strings evaluated as attribute names or code
    ("attrgetter of a dunder", "from operator import attrgetter\nattrgetter('__class__')(x)", [(2, "dynamic-attribute")]),
    ("attrgetter of a dotted private name", "import operator\noperator.attrgetter('a._b')(x)", [(2, "dynamic-attribute")]),
    ("attrgetter of a computed name", "import operator\noperator.attrgetter(name)(x)", [(2, "dynamic-attribute")]),
    ("methodcaller of a dunder", "import operator\noperator.methodcaller('__reduce__')(x)", [(2, "dynamic-attribute")]),
    ("agg by a private method name", "df.agg('_reduce')", [(1, "dynamic-attribute")]),
    ("transform by a dunder in a dict", "df.transform({'a': '__class__'})", [(1, "dynamic-attribute")]),
    ("a format template in a variable", "t = '{0.__class__.__init__.__globals__}'\nt.format(f)", [(1, "format-dunder")]),
    ("a computed format template", "('{0.' + name + '}').format(x)", [(1, "format-dunder")]),
    ("a Styler template", "df.style.format('{0._mgr}')", [(1, "format-dunder")]),
    ("matplotlib runs a program", "import matplotlib.pyplot as plt\nplt.rcParams['animation.ffmpeg_path'] = '/bin/sh'",
     [(2, "blocked-setting")]),
    ("matplotlib rc keyword", "import matplotlib.pyplot as plt\nplt.rc('animation', convert_path='/bin/sh')",
     [(2, "blocked-setting")]),
    ("a backend imported by name", "import matplotlib\nmatplotlib.use('module://antigravity')", [(2, "blocked-setting")]),
    # modules that stay refused
    ("types builds code objects", "import types", [(1, "import-not-allowed")]),
    ("inspect", "import inspect", [(1, "import-not-allowed")]),
    ("pickle", "import pickle", [(1, "import-not-allowed")]),
    ("logging", "import logging.config", [(1, "import-not-allowed")]),
]

ALLOWED = [
    ("query on a column", "df.query('age > 30')"),
    ("eval assignment", "df.eval('c = a + b')"),
    ("query with an @-variable and backticks", "limit = 3\ndf.query('a > @limit and `my col` < 3 and b in @names')"),
    ("query with string methods", "df.query('name.str.startswith(\"A\")', engine='python')"),
    ("columns named like builtins", "df.query('open > close and input != 0')"),
    ("eval with functions", "df.eval('d = sqrt(a) + abs(b)')"),
    ("pd.eval on values", "import pandas as pd\nx = 1\npd.eval('x + 1')"),
    ("model.eval() of another library", "model.eval()"),
    ("a named tuple's API", "for row in df.itertuples():\n    print(row._asdict(), row._fields)"),
    ("a class's own private state",
     "class Cache:\n    def __init__(self):\n        self._store = {}\n    def get(self, k):\n        return self._store.get(k)"),
    ("a private method of one's own", "class A:\n    def _helper(self):\n        return 1\n    def run(self):\n        return self._helper()"),
    ("a double-underscore attribute of one's own", "class A:\n    def __init__(self):\n        self.__n = 1\n    def n(self):\n        return self.__n"),
    ("a classmethod's registry", "class R:\n    _items = []\n    @classmethod\n    def add(cls, x):\n        cls._items.append(x)"),
    ("pd.api.types", "import pandas as pd\npd.api.types.is_numeric_dtype(df['a'])"),
    ("scipy.signal", "from scipy import signal\nsignal.find_peaks([1, 3, 1])"),
    ("a plain format", "'{:.2f} {name}'.format(3.14159, name='x')"),
    ("a Styler format", "df.style.format('{:.1%}')"),
    ("agg by public names", "df.groupby('a').agg({'b': ['sum', 'mean'], 'c': 'max'})"),
    ("methodcaller of a public method", "import operator\noperator.methodcaller('round', 2)(x)"),
    ("np.load without pickles", "import numpy as np\nnp.load('a.npy', allow_pickle=False)"),
    ("the match of a dataclass", "match p:\n    case Point(x=0, y=y):\n        print(y)"),
    ("Literal values", "from typing import Literal\ndef f(kind: Literal['open', 'close']) -> None:\n    pass"),
    ("rcParams for style", "import matplotlib.pyplot as plt\nplt.rcParams['figure.figsize'] = (8, 4)"),
    ("the harmless standard modules",
     "import queue, stat, unicodedata, heapq, bisect, fractions, decimal, string, textwrap, difflib, calendar, zoneinfo, uuid"),
]


@pytest.mark.parametrize(("case", "code", "expected"), REFUSED, ids=[c[0] for c in REFUSED])
def test_escape_families_are_refused(case: str, code: str, expected: list[tuple[int, str]]) -> None:
    assert rules(code) == expected


@pytest.mark.parametrize(("case", "code"), ALLOWED, ids=[c[0] for c in ALLOWED])
def test_ordinary_code_of_the_same_shapes_passes(case: str, code: str) -> None:
    assert rules(code) == []


def test_messages_name_the_fix() -> None:
    (fstring,) = verify("df.query(f'year == {year}')")
    assert 'df.query("year == @year")' in fstring.message and fstring.message.startswith("line 1: ")
    (module,) = verify("import numpy as np\ndf.query('a > @np')")
    assert "@np hands the imported 'numpy'" in module.message and "@limit" in module.message
    (private,) = verify("df._get_numeric_data()")
    assert "df.select_dtypes('number')" in private.message
    (mangled,) = verify("license._Printer__filenames")
    assert "name-mangled" in mangled.message
    (pattern,) = verify("match x:\n    case object(__class__=c):\n        pass")
    assert pattern.line == 2 and "type(x).__name__" in pattern.message
    (inside,) = verify("df.query('a.__class__')")
    assert "in the expression of .query(): .__class__" in inside.message
    (pickled,) = verify("import pandas as pd\npd.read_pickle('m.pkl')")
    assert "loading a pickle runs code" in pickled.message


def test_every_dangerous_module_reachable_from_pandas_numpy_and_matplotlib_is_refused() -> None:
    """Walk the attributes of the installed analysis packages, as code could, and refuse every
    route to a module that runs programs, imports by name, unpickles or reaches interpreter state."""
    dangerous = {
        "os", "posix", "sys", "subprocess", "shutil", "socket", "ctypes", "importlib", "builtins", "pty",
        "multiprocessing", "codecs", "pickle", "_pickle", "copyreg", "marshal", "shelve", "runpy", "codeop",
        "pdb", "pydoc", "inspect", "gc", "webbrowser", "pkgutil", "zipimport", "logging", "unittest",
    }
    roots = ("pandas", "numpy", "matplotlib")
    for root in roots:
        importlib.import_module(root)
    routes: dict[tuple[str, str], str] = {}
    seen: set[int] = set()
    queue = collections.deque((root, sys.modules[root]) for root in roots)
    while queue:
        path, module = queue.popleft()
        if id(module) in seen or "._" in path:  # private steps are refused on their own
            continue
        seen.add(id(module))
        for name in dir(module):
            value = getattr(module, name, None)
            if not isinstance(value, types.ModuleType) or name.startswith("_"):
                continue
            if value.__name__.split(".")[0] in dangerous:
                routes.setdefault((name, value.__name__), f"{path}.{name}")
            elif value.__name__.split(".")[0] in roots:
                queue.append((f"{path}.{name}", value))
    assert len(routes) >= 5, routes  # the walk found the known routes (pd.io.common.os, ...)
    for (name, _), route in routes.items():
        found = verify(f"import {route.split('.')[0]}\nx = {route}")
        assert found, f"{route} is not refused"
        assert {v.rule for v in found} <= {"dangerous-attribute", "blocked-member"}, (route, found)
        assert name in DEFAULT_DANGEROUS_ATTRIBUTES


def test_config_can_extend_the_lists() -> None:
    config = CodeVerifierConfig(extra_allowed_imports=("types",), safe_private_attributes=("_repr_html_",))
    assert verify("import types\ndf._repr_html_()", config=config) == []
    assert rules("df._repr_html_()") == [(1, "private-attribute")]
