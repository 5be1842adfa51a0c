"""The report as a reader sees it, in Debian's headless Chromium at 1280 px, driven by Playwright.

The report is rendered from hand-built Results with real matplotlib figures (seconds, no
training); :mod:`test_report` covers the report of real experiment runs.
"""
from __future__ import annotations

import re
import shutil
import sys

import pytest
from _synthetic_results import filter_result, sweep_result

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)",
                allow_module_level=True)

from overfitlab.experiments.results_io import figure_pngs  # noqa: E402
from overfitlab.report.render import section, write_report  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    results = [sweep_result(), filter_result()]
    sections = [section(r, f"What {r.experiment} shows.", figure_pngs(r)) for r in results]
    return write_report(sections, "quick", tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def page(report):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_function("[...document.images].every(i => i.complete)")
        yield page
        assert not errors, errors
        browser.close()


def test_every_figure_is_wide_or_opens_enlarged(page):
    figures = page.locator(".ofl-figures img")
    assert figures.count() == 4
    enlarged = 0
    for i in range(figures.count()):
        img = figures.nth(i)
        shown = img.bounding_box()["width"]
        if shown >= 600:
            continue
        img.click()
        page.wait_for_selector("dialog#zoom[open]")
        big = page.locator("dialog#zoom img").bounding_box()["width"]
        assert big >= 600 and big > 1.2 * shown, (i, shown, big)
        page.keyboard.press("Escape")
        page.wait_for_selector("dialog#zoom:not([open])", state="attached")
        enlarged += 1
    assert enlarged >= 2  # the single-panel figures share a row and open on click
    # The 1650 px multi-panel figure spans the section, the single panel takes half of it.
    widths = figures.evaluate_all("els => els.map(e => e.getBoundingClientRect().width)")
    section_width = page.locator("#synthetic-sweep").bounding_box()["width"]
    assert widths[0] > 0.85 * section_width and widths[1] < 0.6 * section_width


def test_every_caption_is_a_sentence_not_a_file_name(page):
    captions = page.locator("figcaption").all_text_contents()
    assert len(captions) == 4
    for caption in captions:
        assert not re.fullmatch(r"\s*[\w.-]+\.(png|svg)\s*", caption), caption
        assert len(caption.split()) >= 5, caption


def test_no_horizontal_scroll_at_1280_px(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_navigation_keeps_headings_visible(page):
    page.click("nav a[href='#synthetic-filter']")
    page.wait_for_function("location.hash === '#synthetic-filter'")
    nav_bottom = page.locator("nav").bounding_box()
    heading = page.locator("#synthetic-filter h2").bounding_box()
    assert heading["y"] >= nav_bottom["y"] + nav_bottom["height"]


def test_values_bands_edges_and_text_answers_read_well(page, report):
    def cells(answer_id):
        return page.locator(f"#synthetic-sweep-{answer_id} td").all_inner_texts()

    assert cells("parameters")[1] == "21,386"
    assert cells("ratio")[1:3] == ["1.000", "—"]  # no "1 – 1" band
    assert cells("tiny_effect")[1] == "8.25 × 10⁻⁶"
    assert cells("best_iteration")[1:3] == ["1,243", "599 – 1,720"]
    edge = cells("best_alpha")[1]
    assert "at the edge of the searched range" in edge
    text = page.locator("#synthetic-sweep-ridge_lasso_idea")
    assert text.evaluate("e => e.tagName") == "DIV"
    section_width = page.locator("#synthetic-sweep").bounding_box()["width"]
    assert text.bounding_box()["width"] > 0.8 * section_width
    assert "no seeds" in page.locator("#synthetic-filter .ofl-meta").inner_text()
    assert "seed 3, 20 seeds" in page.locator("#synthetic-sweep .ofl-meta").inner_text()
    html = report.read_text()
    assert sys.prefix not in html and "site-packages" not in html
