"""The web page in a real headless browser (Debian's Chromium driven by Playwright): load it
from a running server, type French, see English appear, switch the beam size, see the heatmap."""

from __future__ import annotations

import shutil

import pytest

from .test_serve import server  # noqa: F401  (fixture: a real server process)

pytestmark = pytest.mark.slow  # subprocesses and trainings: see pyproject's markers

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
def test_type_french_see_english_and_a_heatmap(server):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api", reason='the browser extra is not '
                                   'installed (pip install -e ".[browser]")')
    url, _ = server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.goto(url + "/")
        assert page.title().startswith("seq2seq")
        page.fill("#source", "")
        page.type("#source", "Le chat noir dort .", delay=10)
        first = page.locator("#output li.translation").first
        first.wait_for(timeout=20000)
        sync_api.expect(first).to_have_text("The black cat sleeps .", timeout=20000)
        heatmap = page.locator("#attention")
        sync_api.expect(page.locator("#attention-section")).to_be_visible()
        assert int(heatmap.get_attribute("data-rows")) >= 2
        assert int(heatmap.get_attribute("data-cols")) >= 2
        # pointing at "black" shows the French sentence with "noir" highlighted
        first.locator("span.w", has_text="black").hover()
        sync_api.expect(page.locator("#source-view")).to_be_visible()
        sync_api.expect(page.locator("#source-view .aligned")).to_have_text("noir")
        words = first.locator("span.w")
        assert words.count() == 5 and all(
            w.get_attribute("title").startswith("probability ") for w in words.all())
        # a pasted paragraph: its sentences are translated one by one, on one line
        page.fill("#source", "Le chien blanc court . La fille rouge saute .")
        sync_api.expect(first).to_have_text("The white dog runs . The red girl jumps .",
                                            timeout=20000)
        page.select_option("#beam", "1")
        page.select_option("#nbest", "1")
        page.fill("#source", "Le chien blanc court .\nLa fille rouge saute .")
        items = page.locator("#output li.translation")
        sync_api.expect(items).to_have_count(2, timeout=20000)
        sync_api.expect(items.nth(0)).to_have_text("The white dog runs .", timeout=20000)
        sync_api.expect(items.nth(1)).to_have_text("The red girl jumps .")
        sync_api.expect(page.locator("#attention-section")).to_be_hidden()
        page.select_option("#beam", "5")
        page.select_option("#nbest", "3")
        sync_api.expect(items.nth(0).locator("ul li")).to_have_count(3, timeout=20000)
        assert page.locator("#status").inner_text() == ""
        browser.close()
