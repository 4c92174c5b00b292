"""This distribution's build backend: the repository's ``build_backend/weaver_build.py``, which
needs nothing installed. A backend must lie inside the project it builds, so this file puts that
folder on ``sys.path`` and re-exports the hooks; in a source distribution it is that module.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "build_backend"))
from weaver_build import *
