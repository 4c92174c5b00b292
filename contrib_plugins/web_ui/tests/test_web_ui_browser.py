"""The web UI in a real Chromium (Debian's package, driven by Playwright; no browser is
downloaded): ``weaver serve`` started by the test on 127.0.0.1 with the scripted model of
:mod:`weaver_server.testing` and real kernels, used as an analyst would.

Screenshots of every scene are saved to ``<pytest's base temp dir>/web-ui-screenshots/``
(``pytest --basetemp=DIR`` puts them where CI keeps them).
Rounds that must be seen while they run wait, in the kernel, for a file the test writes once
it has seen what it came for, so nothing depends on how fast the machine is.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from weaver.testing import FakeOpenAIServer
from weaver_server.testing import ServiceProcess, scripted_model, serve, write_project

playwright_sync = pytest.importorskip("playwright.sync_api", reason="the browser tests need the playwright package")
Page = playwright_sync.Page
expect = playwright_sync.expect

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef00"
LIVENESS_MS = 90_000
GO = "go.flag"
WAIT_FOR_GO = f"import pathlib, time\nwhile not pathlib.Path({GO!r}).exists():\n    time.sleep(0.05)\n"
"""Kernel code that holds the cell until the test lets it go (the session's working directory)."""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium package (.ci/run does)")
    with FakeOpenAIServer(scripted_model) as model:
        project = write_project(
            tmp_path_factory.mktemp("project"),
            model.base_url,
            execution={"pool_size": 0},
            # Code that writes files waits for a person; the rest runs as it comes.
            approval={"code": "risky", "timeout_s": 600},
        )
        with serve(project, tokens={"alice": ALICE, "bob": BOB}) as running:
            yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with playwright_sync.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "web-ui-screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def open_page(browser: object, service: ServiceProcess, token: str) -> Page:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)  # type: ignore[attr-defined]
    context.set_default_timeout(LIVENESS_MS)
    page = context.new_page()
    page.goto(service.url + "/ui/")
    expect(page).to_have_url(service.url + "/ui/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page.locator("#weaver-input textarea")).to_be_visible()
    return page


def ask(page: Page, text: str) -> None:
    page.fill("#weaver-input textarea", text)
    page.click("#weaver-send")


def new_session(page: Page) -> None:
    """Start a new session and wait until the page has it (a question asked before that
    would go to whichever session the page had)."""
    page.click("#weaver-new")
    expect(page.locator("#weaver-sessions label.selected")).to_contain_text("New session")


def chat(page: Page) -> object:
    return page.locator("#weaver-chat")


def let_go(service: ServiceProcess, user: str = "alice") -> None:
    """Release every cell waiting for :data:`GO` in the user's sessions."""
    for cwd in (service.workspace / "users" / user / "sessions").glob("*/cwd"):
        (cwd / GO).write_text("go")


def test_signing_in_is_required_and_a_wrong_token_is_refused(service: ServiceProcess, browser: object, shots: Path) -> None:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(service.url + "/ui")
    expect(page).to_have_url(service.url + "/ui/login")
    page.fill("#token", "not-a-token-of-anyone-at-all")
    page.click("button[type=submit]")
    expect(page.locator("#error")).to_have_text("That token is not valid.")
    page.screenshot(path=shots / "01-login-refused.png")
    # The page's own routes (its config, its event queue) answer no one without the cookie.
    for path in ("/ui/config", "/ui/gradio_api/info"):
        assert context.request.get(service.url + path).status == 401, path
    join = {"data": ["run: print(1)", None], "fn_index": 0, "session_hash": "intruder", "event_data": None}
    assert context.request.post(service.url + "/ui/gradio_api/queue/join", data=join).status == 401
    context.close()


def test_ask_see_the_plan_the_output_stream_a_table_a_plot_and_download_it(
    service: ServiceProcess, browser: object, shots: Path
) -> None:
    page = open_page(browser, service, ALICE)
    page.screenshot(path=shots / "02-empty.png")
    code = (
        "run: import pandas as pd, matplotlib.pyplot as plt\n"
        "print('first line,', 'before the wait', flush=True)\n"
        f"{WAIT_FOR_GO}"
        "sales = pd.DataFrame({'region': ['north', 'south', 'east'], 'units': [120, 95, 143]})\n"
        "display(sales)\n"
        "sales.plot.bar(x='region', y='units', title='Units by region')\n"
        "plt.show()\n"
        "print('after', 'the plot')"
    )
    ask(page, code)
    # (What the code prints is spelt apart in the code, so the request itself never matches it.)
    # While the cell waits: its first line is on the page, the plan marks the step being worked
    # on, the round can be cancelled and nothing it prints later is there yet.
    expect(chat(page)).to_contain_text("first line, before the wait")
    expect(chat(page)).to_contain_text("running…")
    expect(page.locator("#weaver-plan")).to_contain_text("▶ 1. Run the code")
    expect(page.locator("#weaver-cancel")).to_be_enabled()
    expect(chat(page)).not_to_contain_text("after the plot")
    page.screenshot(path=shots / "03-output-streaming.png")
    let_go(service)
    expect(chat(page)).to_contain_text("after the plot")
    expect(chat(page)).to_contain_text("Done: first line, before the wait")
    expect(page.locator("#weaver-plan")).to_contain_text("✓ 2. Report what it printed")
    # The table as a table, in the chat and in the table panel.
    expect(chat(page).locator("table").first).to_contain_text("north")
    table = page.locator("#weaver-table")
    expect(table).to_contain_text("region")
    expect(table).to_contain_text("143")
    # The plot is shown inline, fetched from the API with the page's cookie.
    image = chat(page).locator("img[src*='/artifacts/']").first
    expect(image).to_be_visible()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 100", arg=image.element_handle())
    expect(page.locator("#weaver-send")).to_be_enabled()
    expect(page.locator("#weaver-cost")).to_contain_text("3 LLM calls")
    page.screenshot(path=shots / "04-table-and-plot.png", full_page=True)
    # The plot is an artifact: downloadable, byte for byte what the kernel saved.
    link = page.locator("#weaver-files a", has_text=".png").first
    with page.expect_download() as download:
        link.click()
    saved = Path(download.value.path())
    artifact = next((service.workspace / "users" / "alice" / "sessions").glob(f"*/artifacts/{download.value.suggested_filename}"))
    assert saved.read_bytes() == artifact.read_bytes()
    page.context.close()


def test_a_cell_that_writes_files_waits_for_approval(service: ServiceProcess, browser: object, shots: Path) -> None:
    page = open_page(browser, service, ALICE)
    new_session(page)
    ask(page, "run: from pathlib import Path\nPath('approved.txt').write_text('yes')\nprint('wrote', 'approved.txt')")
    panel = page.locator("#weaver-approval").first  # Gradio gives a group its id twice, outside and in
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("writes, moves or deletes files")
    expect(panel).to_contain_text("approved.txt")
    expect(chat(page)).to_contain_text("Waiting for your approval")
    expect(chat(page)).not_to_contain_text("wrote approved.txt")
    expect(chat(page)).to_contain_text("Code cell 1 · waiting for approval")  # held, not running
    page.screenshot(path=shots / "05-approval-asked.png")
    page.click("#weaver-approve")
    expect(panel).to_be_hidden()
    expect(chat(page)).to_contain_text("Approved by you")
    expect(chat(page)).to_contain_text("Done: wrote approved.txt")
    assert list((service.workspace / "users" / "alice" / "sessions").glob("*/cwd/approved.txt"))
    page.screenshot(path=shots / "06-approved.png")

    # Rejected, with a reason: the code never runs and the chat says why.
    new_session(page)
    ask(page, "run: from pathlib import Path\nPath('rejected.txt').write_text('no')\nprint('wrote', 'rejected.txt')")
    expect(panel).to_be_visible()
    page.fill("#weaver-reason textarea", "Do not write files in this project")
    page.click("#weaver-reject")
    expect(chat(page)).to_contain_text("Rejected by you")
    expect(chat(page)).to_contain_text("Do not write files in this project")
    # This model tries the same code again: a new request, which the person ends by cancelling.
    expect(panel).to_be_visible()
    page.click("#weaver-cancel")
    expect(chat(page)).to_contain_text("Cancelled")
    expect(panel).to_be_hidden()
    expect(page.locator("#weaver-send")).to_be_enabled()
    assert not list((service.workspace / "users" / "alice" / "sessions").glob("*/cwd/rejected.txt"))
    page.screenshot(path=shots / "07-rejected.png")
    page.context.close()


def test_upload_cancel_a_round_then_resume_the_session_from_the_list(
    service: ServiceProcess, browser: object, shots: Path, tmp_path: Path
) -> None:
    page = open_page(browser, service, ALICE)
    new_session(page)
    data = tmp_path / "numbers.csv"
    data.write_text("n\n40\n2\n", encoding="utf-8")
    page.locator("input[type=file]").set_input_files(str(data))
    expect(page.locator("#weaver-files")).to_contain_text("numbers.csv")
    ask(page, "run: import pandas as pd\ntotal = int(pd.read_csv('numbers.csv')['n'].sum())\nprint('the total', 'is set')")
    expect(chat(page)).to_contain_text("Done: the total is set")
    ask(page, "run: import time\nprint('started', 'the long job', flush=True)\nwhile True:\n    time.sleep(0.1)")
    expect(chat(page)).to_contain_text("started the long job")
    page.click("#weaver-cancel")
    expect(chat(page)).to_contain_text("Cancelled")
    expect(page.locator("#weaver-send")).to_be_enabled()
    expect(page.locator("#weaver-cancel")).to_be_disabled()
    page.screenshot(path=shots / "08-cancelled.png")
    page.context.close()

    # A new visit: the session is in the list; opening it shows what it did, cancelled round included.
    page = open_page(browser, service, ALICE)
    entry = page.locator("#weaver-sessions label", has_text="import pandas as pd total")
    expect(entry).to_contain_text("2 rounds")
    entry.click()
    expect(chat(page)).to_contain_text("started the long job")
    expect(chat(page)).to_contain_text("Cancelled")
    page.screenshot(path=shots / "09-resumed.png")
    # It goes on where it was: the kernel kept what the first round made.
    ask(page, "run: print(total)")
    expect(chat(page)).to_contain_text("Done: 42")
    page.context.close()


def test_another_user_sees_none_of_it(service: ServiceProcess, browser: object, shots: Path) -> None:
    page = open_page(browser, service, BOB)
    expect(page.locator("#weaver-sessions")).not_to_contain_text("run:")
    assert page.locator("#weaver-sessions label").count() == 0
    page.screenshot(path=shots / "10-another-user.png")
    # Nor can the page's cookie reach alice's files through the API.
    alice_session = next((service.workspace / "users" / "alice" / "sessions").iterdir()).name
    assert page.context.request.get(f"{service.url}/v1/sessions/{alice_session}/artifacts").status == 404
    assert page.context.request.get(f"{service.url}/v1/sessions").json() == []
    page.context.close()


def test_hook_weaver_server_mount(service: ServiceProcess, browser: object) -> None:
    # The service mounts the page through the hook: its login page and the page are there,
    # next to the API, and the API's schema stays the API's.
    context = browser.new_context()  # type: ignore[attr-defined]
    assert context.request.get(service.url + "/ui/login").status == 200
    assert context.request.get(service.url + "/ui/", max_redirects=0).headers["location"] == "login"
    schema = context.request.get(service.url + "/openapi.json").json()
    assert schema["paths"] and not [path for path in schema["paths"] if path.startswith("/ui")]
    context.close()
