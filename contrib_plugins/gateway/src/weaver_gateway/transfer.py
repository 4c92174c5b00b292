"""Moving files to and from a gateway kernel, through the kernel itself.

A gateway has no files API that reaches the kernel's disk (Kernel Gateway serves none, and
on Kubernetes the kernel's pod is not the gateway's), so files travel as Weaver's own
silent requests to the kernel's runtime (:mod:`weaver.execution.runtime.transfer`), in
parts of :data:`CHUNK` bytes: well below the 10 MiB a gateway accepts in one websocket
message. What the kernel answers is read as untrusted data: only what was asked for, sizes
checked, and written on the host only through :mod:`weaver.execution.files`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from weaver.execution.channel import KernelChannel
from weaver.execution.runtime import TRANSFER_MIME

CHUNK = 4 * 1024 * 1024
"""Bytes of file data one request carries at most."""
SKIPPED = ("__pycache__",)


class TransferError(Exception):
    """The kernel did not answer a transfer as asked."""


@attrs.frozen
class Staged:
    """A session's directories on the kernel's machine."""

    root: str
    cwd: str
    artifacts_dir: str
    home: str
    plugins: str


async def call(kernel: KernelChannel, function: str, request: dict[str, Any]) -> dict[str, Any]:
    """Run ``weaver.execution.runtime.transfer.<function>(request)`` in the kernel; its answer."""
    code = (
        f"__import__('weaver.execution.runtime.transfer', fromlist=['{function}'])"
        f".{function}({json.dumps(json.dumps(request))})"
    )
    collector = await kernel.run_internal(code)
    answers = collector.reports[TRANSFER_MIME]
    if len(answers) != 1 or not isinstance(answers[0], dict):
        raise TransferError(f"the kernel gave {len(answers)} answers to a {function} request")
    return answers[0]


async def stage(kernel: KernelChannel, request: dict[str, Any]) -> Staged:
    answer = await call(kernel, "stage", request)
    try:
        return Staged(*(str(answer[key]) for key in ("root", "cwd", "artifacts_dir", "home", "plugins")))
    except KeyError as exc:
        raise TransferError(f"the kernel's stage answer has no {exc}") from None


def local_files(folder: Path, prefix: str = "") -> Iterator[tuple[str, Path, os.stat_result]]:
    """Regular files below ``folder`` by relative name, crossing no link, leaving out
    dot-names and ``__pycache__``."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(".") or entry.name in SKIPPED:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        name = f"{prefix}{entry.name}"
        if stat.S_ISDIR(info.st_mode):
            yield from local_files(Path(entry.path), f"{name}/")
        elif stat.S_ISREG(info.st_mode):
            yield name, Path(entry.path), info


async def push(kernel: KernelChannel, root: str, items: Sequence[tuple[str, Path]], limit: int) -> dict[str, str]:
    """Send host files to ``root/<name>`` in the kernel, at most ``limit`` bytes in all;
    returns ``{name: why}`` for each file that did not arrive."""
    errors: dict[str, str] = {}
    batch: list[dict[str, Any]] = []
    size = 0
    sent = 0

    async def flush() -> None:
        nonlocal batch, size
        if batch:
            answer = await call(kernel, "put", {"root": root, "files": batch})
            errors.update({str(k): str(v) for k, v in dict(answer.get("errors", {})).items()})
        batch, size = [], 0

    for name, path in items:
        try:
            total = os.stat(path, follow_symlinks=False).st_size
            if sent + total > limit:
                errors[name] = f"not sent: {total} bytes would pass the transfer limit ([gateway] max_transfer_mb)"
                continue
            with open(path, "rb") as file:  # noqa: ASYNC230 - opening is quick; each read is off the loop
                offset = 0
                while True:
                    data = await asyncio.to_thread(file.read, CHUNK)
                    if size + len(data) > CHUNK:
                        await flush()
                    batch.append({"name": name, "data": base64.b64encode(data).decode("ascii"), "offset": offset})
                    size += len(data)
                    offset += len(data)
                    sent += len(data)
                    if len(data) < CHUNK:
                        break
        except OSError as exc:
            errors[name] = f"{type(exc).__name__}: {exc.strerror or exc}"
    await flush()
    return errors


async def pull(kernel: KernelChannel, root: str, name: str, limit: int) -> bytes:
    """The file ``root/<name>`` of the kernel, read in parts; at most ``limit`` bytes."""
    data = bytearray()
    while True:
        answer = await call(kernel, "get", {"root": root, "files": [{"name": name, "offset": len(data), "size": CHUNK}]})
        if answer.get("errors"):
            raise TransferError(str(dict(answer["errors"]).get(name, answer["errors"])))
        found = [f for f in answer.get("files", ()) if isinstance(f, dict) and f.get("name") == name]
        if len(found) != 1:
            raise TransferError(f"the kernel did not send {name!r}")
        try:
            part = base64.b64decode(str(found[0].get("data", "")), validate=True)
            total = int(found[0].get("total", 0))
        except (binascii.Error, ValueError, TypeError) as exc:
            raise TransferError(f"the kernel sent {name!r} garbled: {exc}") from None
        if total > limit:
            raise TransferError(f"{name!r} has {total} bytes, more than the transfer limit ([gateway] max_transfer_mb)")
        if len(part) > CHUNK or len(data) + len(part) > total:
            raise TransferError(f"the kernel sent more of {name!r} than it has")
        data += part
        if len(data) >= total or not part:
            return bytes(data)
