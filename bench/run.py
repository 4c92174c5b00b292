"""Run Weaver's benchmarks: ``python bench/run.py [--repeats N] [--only NAME ...]`` (or ``nox -s bench``).

Every ``bench/bench_*.py`` exposes ``run(repeats: int) -> list[dict]``; each dict is one
measurement: ``{"name", "unit", "samples": [floats], "baseline": <another name or None>,
"note"}``. The machines are shared and noisy, so the report gives the median with its spread
(min–max and interquartile range) and, where a measurement names a baseline measured in the
same run, the ratio of the two medians. The table goes to stdout and the full report,
samples included, to ``bench-results/latest.json``. A module that fails is reported and makes
the exit status non-zero; the others still run. A module that sets ``SLOW = True`` (minutes
per run, such as ``bench_install``) runs only when ``--only`` names it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "bench-results" / "latest.json"
REQUIRED = {"name": str, "unit": str, "samples": list}


def discover(only: Sequence[str]) -> list[Path]:
    """``bench_*.py`` modules, by name; ``only`` keeps those whose name (with or without ``bench_``) is listed."""
    modules = sorted(HERE.glob("bench_*.py"))
    if only:
        wanted = {name.removeprefix("bench_").removesuffix(".py") for name in only}
        modules = [m for m in modules if m.stem.removeprefix("bench_") in wanted]
        missing = wanted - {m.stem.removeprefix("bench_") for m in modules}
        if missing:
            raise SystemExit(f"no benchmark module for: {', '.join(sorted(missing))}")
    return modules


def load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(row: Any, module: str) -> dict[str, Any]:
    """The measurement as the protocol defines it, or a TypeError saying what is wrong."""
    if not isinstance(row, dict):
        raise TypeError(f"{module}: a measurement must be a dict, got {type(row).__name__}")
    for key, kind in REQUIRED.items():
        if not isinstance(row.get(key), kind):
            raise TypeError(f"{module}: measurement {row.get('name')!r} needs {key!r} as {kind.__name__}")
    if not row["samples"] or not all(isinstance(s, (int, float)) for s in row["samples"]):
        raise TypeError(f"{module}: measurement {row['name']!r} needs at least one numeric sample")
    return {"baseline": None, "note": "", **row, "module": module}


def summarize(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive") if len(ordered) > 1 else (ordered[0],) * 3
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "n": len(ordered),
    }


def add_ratios(rows: list[dict[str, Any]]) -> None:
    medians = {row["name"]: row["median"] for row in rows}
    for row in rows:
        base = row["baseline"]
        row["ratio"] = None
        if base is None:
            continue
        if base not in medians:
            row["note"] = f"{row['note']} (baseline {base!r} was not measured in this run)".strip()
        elif medians[base]:
            row["ratio"] = row["median"] / medians[base]


def table(rows: list[dict[str, Any]]) -> str:
    def num(value: float) -> str:
        return f"{value:.4g}"

    header = ("name", "unit", "median", "min–max", "IQR", "n", "× baseline")
    lines = [
        (
            row["name"],
            row["unit"],
            num(row["median"]),
            f"{num(row['min'])}–{num(row['max'])}",
            num(row["iqr"]),
            str(row["n"]),
            f"{row['ratio']:.2f} × {row['baseline']}" if row["ratio"] is not None else "",
        )
        for row in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]

    def render(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([render(header), render(["-" * w for w in widths]), *map(render, lines)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="samples per measurement (default 5)")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="run only these modules (core or bench_core)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON report (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    rows: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    started = time.time()
    for path in discover(args.only):
        try:
            module = load(path)
            if getattr(module, "SLOW", False) and not args.only:
                print(f"skipping {path.stem}: slow, runs only when named (--only {path.stem})", file=sys.stderr)
                continue
            print(f"running {path.stem} ...", file=sys.stderr, flush=True)
            measured = [check(row, path.stem) for row in module.run(args.repeats)]
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            failures.append({"module": path.stem, "error": f"{type(exc).__name__}: {exc}"})
            continue
        rows.extend({**row, **summarize(row["samples"])} for row in measured)
    add_ratios(rows)

    print(table(rows))
    for failure in failures:
        print(f"FAILED {failure['module']}: {failure['error']}", file=sys.stderr)
    report = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 3),
        "repeats": args.repeats,
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "results": rows,
        "failures": failures,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report: {args.output}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
