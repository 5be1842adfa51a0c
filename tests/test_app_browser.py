"""End-to-end test of the playground page in Debian's headless Chromium, driven by Playwright.

The app runs under uvicorn in a background thread on 127.0.0.1 (a free port). The test moves the
L2 slider with the keyboard, checks that the fitted curve, the MSE curves and the numbers change,
that the address bar reproduces the view, and that no request left localhost.
"""
from __future__ import annotations

import shutil
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)",
                allow_module_level=True)

import uvicorn  # noqa: E402

from overfitlab.app.server import create_app  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Small but not trivial: compiles in a few seconds on a loaded 2-core machine.
QUERY = "?iterations=2000&seeds=5&hidden_units=20&alpha=0.0001"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url():
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _wait_rendered(page, after_version: int) -> int:
    """Wait until an answer newer than ``after_version`` is drawn and nothing is pending."""
    page.wait_for_function(
        "v => { const s = document.getElementById('status');"
        " return Number(s.dataset.version) > v && s.dataset.state === 'ready'; }",
        arg=after_version, timeout=120_000)
    return int(page.get_attribute("#status", "data-version"))


def _view(page) -> dict:
    """What the student sees: plotted data of the fit and test curve, and the numbers."""
    return page.evaluate("""() => ({
        fit: document.getElementById('fit-plot').data[2].y,
        test: document.getElementById('curves-plot').data[5].y,
        units: document.getElementById('units-plot').data[0].y,
        testEnd: document.getElementById('m-test-end').textContent,
        bestIteration: document.getElementById('m-best-iteration').textContent,
        alphaShown: document.getElementById('alpha-value').textContent,
    })""")


def test_alpha_slider_changes_view_offline(base_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(base_url + "/" + QUERY)
    _wait_rendered(page, 0)
    before = _view(page)
    assert before["testEnd"] and before["testEnd"] != "-"
    assert len(before["fit"]) == 161 and all(v is not None for v in before["fit"])

    # Every control carries a tooltip that says what it does and what to look for.
    tips = page.eval_on_selector_all(".tip", "els => els.map(e => e.dataset.tip)")
    assert len(tips) >= 17 and all("Look for" in t for t in tips)

    # Move the L2 slider four decades to the right with the keyboard (1e-4 -> 1).
    page.focus("#alpha")
    for _ in range(40):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => window.lastAnswer.config.alpha === 1"
        " && document.getElementById('status').dataset.state === 'ready'", timeout=120_000)
    assert "alpha=1&" in page.url
    after = _view(page)
    assert after["alphaShown"] == "1"
    assert after["fit"] != before["fit"]
    assert after["test"] != before["test"]
    assert after["units"] != before["units"]
    assert after["testEnd"] != before["testEnd"]
    # alpha = 1 on 10 points shrinks the weights: the largest unit is smaller than before.
    assert after["units"][0] < before["units"][0]

    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000

    # The address bar reproduces the view: a fresh page on the same URL shows the same numbers.
    shared = page.url
    other = browser.new_page(viewport={"width": 1400, "height": 950})
    other.on("request", lambda r: requests.append(r.url))
    other.goto(shared)
    _wait_rendered(other, 0)
    again = _view(other)
    assert again["testEnd"] == after["testEnd"] and again["fit"] == after["fit"]

    # A URL over the limits shows the server's message naming the field, and no traceback.
    other.goto(base_url + "/?seeds=100&ensemble=2")
    other.wait_for_selector("#error:not([hidden])")
    assert other.text_content("#error").startswith("ensemble: ")
    assert other.get_attribute("#status", "data-state") == "error"

    assert not errors, errors
    hosts = {urlsplit(u).hostname for u in requests if not u.startswith("data:")}
    assert hosts == {"127.0.0.1"}, f"off-localhost requests: {hosts}"
    assert any(u.endswith("/vendor/plotly.min.js") for u in requests)
    page.close()
    other.close()
