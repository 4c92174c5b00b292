"""Host plugins against real kernels: the secret stays on the host (looked for in the
kernel's memory, environment, files and every output), the call works from a sandbox with
no network, the budget holds whatever kernel code does, input() never waits, a call past
the time limit is cancelled on the host, and a person can refuse a call."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import weaver
from weaver.engine import App, Session
from weaver.events import Event, EventType
from weaver.execution import ExecutionResult
from weaver.execution.sandbox import bwrap_status
from weaver.plugins.schema import Parameter, PluginSchema, ReturnValue
from weaver.plugins.sources import SourceTool
from weaver.specs import PluginSourceSpec
from weaver.testing.kernels import kernel_app

pytestmark = pytest.mark.slow
AVAILABLE, DETAIL = bwrap_status()
SECRET = "tok-" + "51d3-Q9ZvX7-host-only-credential"
"""Built from parts, so this file's own text never holds it whole (the kernel reads no test file anyway)."""

PLUGINS = '''
import asyncio, json, os, urllib.request
from pathlib import Path
import weaver
from weaver.plugins import context


@weaver.plugin(host=True, config=("token", "url"))
def balance(account: str, currency: str = "EUR") -> dict:
    """The balance of an account, from the bank's API (which needs the token).

    Args:
        account: the account's id.
        currency: the currency of the answer.
    """
    cfg = context().config
    request = urllib.request.Request(
        f"{cfg['url']}/balance?account={account}", headers={"Authorization": f"Bearer {cfg['token']}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return {**json.load(answer), "currency": currency}


@weaver.plugin(host=True, config=("token",))
def refused(account: str) -> dict:
    """Always fails, naming its token (a careless plugin)."""
    raise PermissionError(f"the bank refused token {context().config['token']} for {account}")


@weaver.plugin(host=True, config=("calls",))
def price(item: str) -> float:
    """The price of an item."""
    with open(context().config["calls"], "a") as log:
        log.write(item + "\\n")
    return float(len(item))


@weaver.plugin(host=True, config=("marker",))
async def slow(seconds: float) -> str:
    """Waits, then answers."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        Path(context().config["marker"]).write_text("cancelled on the host")
        raise
    return "done"
'''


class Bank(BaseHTTPRequestHandler):
    """A local API that answers only with the right token."""

    def do_GET(self) -> None:
        ok = self.headers.get("Authorization") == f"Bearer {SECRET}"
        body = json.dumps({"account": self.path.rpartition("=")[2], "amount": 1234.5} if ok else {"error": "token"})
        self.send_response(200 if ok else 403)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def bank() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Bank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def project(root: Path, bank: str) -> Path:
    (root / "plugins").mkdir(parents=True)
    (root / "plugins" / "bank.py").write_text(PLUGINS)
    (root / "weaver.toml").write_text(
        f'[plugins.config.balance]\ntoken = "{SECRET}"\nurl = "{bank}"\n\n'
        f'[plugins.config.refused]\ntoken = "{SECRET}"\n\n'
        f'[plugins.config.price]\ncalls = "{root / "price-calls.txt"}"\n\n'
        f'[plugins.config.slow]\nmarker = "{root / "slow-marker.txt"}"\n'
    )
    return root


def run(session: Session, code: str) -> ExecutionResult:
    return session.app.run(session.execute(code))


def search_code(secret: str, places: list[str]) -> str:
    """Kernel code that looks for ``secret`` without ever holding it whole: it is given in
    two halves, and a match is a first half followed by the second."""
    head, tail = secret[: len(secret) // 2], secret[len(secret) // 2 :]
    return f"""
import os, re
head, tail = {head.encode()!r}, {tail.encode()!r}
def holds(data):
    at = data.find(head)
    while at >= 0:
        if data[at + len(head): at + len(head) + len(tail)] == tail:
            return True
        at = data.find(head, at + 1)
    return False
found = []
with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb', 0) as mem:
    for line in maps:
        span, perms = line.split()[:2]
        if 'r' not in perms:
            continue
        start, end = (int(x, 16) for x in span.split('-'))
        try:
            mem.seek(start)
            if holds(mem.read(end - start)):
                found.append('memory ' + line.strip())
        except (OSError, OverflowError, ValueError):
            pass
if holds(open('/proc/self/environ', 'rb').read()):
    found.append('environment')
for top in {places!r} + [os.getcwd(), os.environ.get('HOME', '/'), '/tmp']:
    for folder, _, names in os.walk(top):
        for name in names:
            try:
                with open(os.path.join(folder, name), 'rb') as file:
                    if holds(file.read(50_000_000)):
                        found.append(os.path.join(folder, name))
            except OSError:
                pass
print('FOUND', found)
"""


@pytest.mark.skipif(not AVAILABLE and os.environ.get("CI") != "true", reason=f"bubblewrap: {DETAIL}")
def test_a_host_plugin_with_a_secret_works_from_a_sandbox_and_the_secret_never_enters_the_kernel(
    tmp_path: Path, bank: str
) -> None:
    root = project(tmp_path / "project", bank)
    events: list[Event] = []
    with kernel_app(root, execution={"sandbox": "bwrap", "timeout_s": 60}) as app:
        app.subscribe(events.append)
        session = app.session()
        port = bank.rpartition(":")[2]
        called = run(
            session,
            "b = balance('acct-7')\nimport socket\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n    reached = True\n"
            "except OSError:\n    reached = False\nprint(b['amount'], b['currency'], reached)",
        )
        failed = run(session, "refused('acct-7')")
        described = run(session, "help(balance)")
        searched = run(session, search_code(SECRET, [str(session.cwd.parent)]))
    assert called.ok, called.error
    assert called.stdout.split() == ["1234.5", "EUR", "False"]  # the API answered the host; the kernel has no network
    assert failed.error is not None and failed.error.type == "PluginCallError"
    assert "PermissionError: the bank refused token <secret> for acct-7" in failed.error.message
    assert "balance(account: 'str', currency: 'str' = 'EUR') -> 'dict'" in described.stdout
    assert "The balance of an account" in described.stdout
    assert searched.ok, searched.error
    assert searched.stdout.strip() == "FOUND []"
    texts = [r.stdout + r.stderr + (r.error.message + r.error.traceback if r.error else "") for r in (called, failed, described)]
    log = (session.paths.log).read_text()
    assert all(SECRET not in text for text in [*texts, log])
    calls = [e.data for e in events if e.type is EventType.plugin_call]
    assert [(c["plugin"], c["ok"]) for c in calls] == [("balance", True), ("refused", False)]
    assert calls[0]["arguments"] == "balance(account='acct-7')" and calls[0]["result_chars"] > 0


def test_a_loop_over_a_host_plugin_stops_at_the_budget_whatever_the_kernel_does(tmp_path: Path, bank: str) -> None:
    root = project(tmp_path / "project", bank)
    tamper = """
import json
from weaver.execution.runtime.hostcall import CALL_PREFIX, HostChannel
from weaver.plugins import wire
ip = get_ipython()
results = []
for i in range(50):
    if i == 3:
        for callback in ip.events.callbacks['pre_run_cell']:
            runtime = getattr(callback, '__self__', None)
            if hasattr(runtime, 'counter'):
                runtime.counter.reset({'budget': 1000, 'left': {}})
                runtime.counter.budget = None
    if i == 4:
        price = price  # rebound, and a stub of its own made
        own = HostChannel(ip.kernel.raw_input, wire.encode, wire.from_json)
        own.call('price', {'item': 'own'})
    if i == 5:
        ip.kernel.raw_input(CALL_PREFIX + json.dumps({'id': '1', 'plugin': 'price', 'arguments': {'item': 'forged'}}))
    results.append(price(f'item-{i}'))
"""
    with kernel_app(root, plugins={"call_budget": 10, "call_budget_scope": "execution"}) as app:
        session = app.session()
        result = run(session, tamper)
        kept = run(session, "len(results), len(_plugin_results), _plugin_results[:2]")
    assert result.error is not None and result.error.type == "PluginBudgetExceeded", result.error
    assert "may be called 10 times" in result.error.message
    # The code's own list has every result; the kernel's partial results are the kernel's to
    # lose (the tampering reset them at item 3), the host's count is not.
    assert kept.value_repr == "(8, 5, [6.0, 6.0])"
    host_calls = (root / "price-calls.txt").read_text().split()
    assert len(host_calls) == 10 and "own" in host_calls and "forged" in host_calls
    assert result.plugin_calls == {"price": 10}


def test_the_budget_spans_a_step_counted_by_the_host(
    tmp_path: Path, bank: str, weaver_pm: Any, register_plugin: Any
) -> None:
    import weaver_code_verifier

    register_plugin(weaver_code_verifier)
    root = project(tmp_path / "project", bank)
    with kernel_app(root, weaver_pm, plugins={"call_budget": 5}) as app:
        session = app.session()
        first = session.run_code("prices = [price(f'i{n}') for n in range(50)]")
        again = session.run_code("prices = [price(f'j{n}') for n in range(50)]")
    assert first.result is not None and first.result.error is not None
    assert first.result.error.type == "PluginBudgetExceeded"
    assert again.result is not None and again.result.error is not None
    assert "this call would be number 6, 5 of them in earlier executions" in again.result.error.message
    assert len((root / "price-calls.txt").read_text().split()) == 5


def test_input_in_kernel_code_never_waits(tmp_path: Path, bank: str) -> None:
    with kernel_app(project(tmp_path / "project", bank)) as app:
        session = app.session()
        asked = run(session, "name = input('your name? ')")
        hidden = run(session, "import getpass\ngetpass.getpass('password: ')")
        raw = run(session, "get_ipython().kernel.raw_input('again? ')")
        after = run(session, "1 + 1")
    for result in (asked, hidden, raw):
        assert result.error is not None and result.error.type == "EOFError"
    assert "nobody can type here" in asked.stderr and "your name?" in asked.stderr
    assert after.ok and after.value_repr == "2"


def test_a_host_call_past_the_time_limit_is_cancelled_on_the_host(tmp_path: Path, bank: str) -> None:
    root = project(tmp_path / "project", bank)
    events: list[Event] = []
    with kernel_app(root, execution={"timeout_s": 2}) as app:
        app.subscribe(events.append)
        session = app.session()
        result = run(session, "answer = slow(60)")
        after = run(session, "'alive'")
    assert result.outcome in ("timeout_interrupted", "error"), result
    assert (root / "slow-marker.txt").read_text() == "cancelled on the host"
    assert after.ok and after.value_repr == "'alive'"
    call = next(e.data for e in events if e.type is EventType.plugin_call)
    assert call["plugin"] == "slow" and call["ok"] is False and call["error"] == "TimeoutError"


@pytest.mark.parametrize("decision", ["approved", "rejected"])
def test_a_person_approves_or_refuses_a_host_call(tmp_path: Path, bank: str, decision: str) -> None:
    root = project(tmp_path / "project", bank)
    with kernel_app(root, approval={"plugin_calls": "always"}, execution={"timeout_s": 5}) as app:
        session = app.session()
        asked: list[dict[str, Any]] = []

        def answer(event: Event) -> None:
            if event.type is EventType.approval_request:
                asked.append(event.data["request"])
                # Answered later than the execution's time limit: waiting for a person does not count.
                threading.Timer(6, session.answer, (asked[-1]["id"], decision), {"reason": "not today"}).start()

        app.subscribe(answer)
        result = run(session, "p = price('pear')\np")
    assert [(r["kind"], r["content"]) for r in asked] == [("plugin_call", "price(item='pear')")]
    if decision == "approved":
        assert result.ok and result.value_repr == "4.0"
    else:
        assert result.error is not None and result.error.type == "PluginCallRejected"
        assert "not today" in result.error.message
        assert not (root / "price-calls.txt").exists()


class Calculator:
    """A plugin source with one tool, in this process (a real implementation of the protocol)."""

    closed = False

    def tools(self) -> list[SourceTool]:
        schema = PluginSchema(
            "add",
            "Add two numbers.",
            (Parameter("a", "int"), Parameter("b", "int", False, "", "1")),
            (ReturnValue("result", "int"),),
        )
        return [SourceTool(schema, "add")]

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        return arguments["a"] + arguments.get("b", 1)

    def close(self) -> None:
        Calculator.closed = True


class CalculatorExtension:
    @weaver.hookimpl
    def weaver_plugin_sources(self, config: Any) -> list[PluginSourceSpec]:
        return [PluginSourceSpec("calc", Calculator, "sums")]


def test_hook_weaver_plugin_sources(tmp_path: Path, weaver_pm: Any) -> None:
    weaver_pm.register(CalculatorExtension())
    app = App(tmp_path, plugin_manager=weaver_pm, environ={}, execution={"pool_size": 0}, session={"roles": []})
    with app:
        assert [p.name for p in app.plugins.plugins] == ["calc.add"]
        assert "def calc.add(a: int, b: int = 1) -> int:" in app.plugins.render()
        session = app.session()
        result = run(session, "calc.add(40, b=2), calc.add(1), weaver_tools.sources()")
    assert result.value_repr == "(42, 2, ['calc'])"
    assert Calculator.closed
