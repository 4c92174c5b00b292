"""What gathering an App's plugins costs on the host: ``load_plugins`` on the TaskWeaver
sample-style project of the tests (YAML + Python plugins, one disabled with a missing
dependency, one that shadows a ``weaver-data-plugins`` plugin) and on the ``weaver init``
template, against only importing the project's enabled plugin files (the floor any loader
pays: their code must run for their classes and signatures).

Run it against another checkout's code to compare (the projects are read from this file's
checkout): ``PYTHONPATH=<other>/core/src:... python bench/run.py --only plugins``."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKWEAVER = ROOT / "tests" / "taskweaver_project"
TEMPLATE = ROOT / "core" / "src" / "weaver" / "cli" / "project_template"
ENABLED_FILES = {"taskweaver": ("anomaly_detection.py", "catalog_search.py"), "template": ("top_rows.py",)}


def _ms(function: Callable[[], object], repeats: int) -> list[float]:
    function()  # warm: pandas and the extension's modules are imported once per process
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def run(repeats: int) -> list[dict]:
    import weaver
    import weaver_data_plugins
    from weaver import defaults
    from weaver.extensions import make_plugin_manager, register
    from weaver.plugins import taskweaver_format
    from weaver.plugins.loader import load_plugins

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, source in (("taskweaver", TASKWEAVER), ("template", TEMPLATE)):
            project = Path(tmp) / label
            shutil.copytree(source, project)
            pm = make_plugin_manager()
            register(pm, defaults, name="weaver.defaults")
            register(pm, weaver_data_plugins, name="data_plugins")
            with weaver.App(project, plugin_manager=pm) as app:
                folder = project / "plugins"

                def floor(folder: Path = folder, files: tuple[str, ...] = ENABLED_FILES[label]) -> None:
                    for name in files:
                        path = folder / name
                        taskweaver_format.import_file(path, lambda message, name="": RuntimeError(message), path.stem)

                def loader(app: weaver.App = app) -> None:
                    load_plugins(app.pm, app.config)

                floor_name = f"import the enabled plugin files ({label})"
                rows.append(
                    {
                        "name": floor_name,
                        "unit": "ms",
                        "samples": _ms(floor, repeats),
                        "baseline": None,
                        "note": ", ".join(ENABLED_FILES[label]),
                    }
                )
                rows.append(
                    {
                        "name": f"load_plugins ({label})",
                        "unit": "ms",
                        "samples": _ms(loader, repeats),
                        "baseline": floor_name,
                        "note": "the project folder and weaver-data-plugins, statuses and config included",
                    }
                )
    return rows
