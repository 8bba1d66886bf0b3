"""The web page in headless Chromium: upload a mix, see results, start aligned playback, save a screenshot."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tests.service.conftest import SONGS, mix_without, wav_bytes

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
                f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1500"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.mark.browser
@pytest.mark.slow
def test_upload_search_and_aligned_playback(browser, live_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    mix = tmp_path / "my song without bass.wav"
    mix.write_bytes(mix_without("bass"))
    wait = WebDriverWait(browser, 30)
    browser.get(live_url + "/")
    wait.until(ec.text_to_be_present_in_element((By.ID, "server-status"), "stems"))
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "empty"

    browser.find_element(By.ID, "file-input").send_keys(str(mix))
    wait.until(lambda d: "MB" in d.find_element(By.ID, "qs-meta").text)
    browser.find_element(By.CSS_SELECTOR, '#instrument-picker [data-instrument="bass"]').click()
    wait.until(ec.element_to_be_clickable((By.ID, "search-btn"))).click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "results")
    rows = browser.find_elements(By.CSS_SELECTOR, "#results-list .result")
    assert len(rows) == SONGS  # k=10, but the catalogue holds only SONGS bass stems
    assert "bass" in rows[0].text and "BPM" in rows[0].text
    # the results past the server's refine_top arrive coarse; the page has them refined and shows the new offsets
    wait.until(lambda d: d.find_element(By.ID, "results-list").get_attribute("data-refined") == "true")
    results = browser.execute_script("return window.stemFinder.results")
    assert all(r["offset_refined"] for r in results)
    for row in browser.find_elements(By.CSS_SELECTOR, "#results-list .result"):
        offset = next(r["offset_seconds"] for r in results if str(r["stem_id"]) == row.get_attribute("data-stem-id"))
        cell = row.find_element(By.CSS_SELECTOR, ".offset-v").text
        assert not cell.startswith("≈") and abs(float(cell.split()[0].replace("−", "-").rstrip("s")) - offset) < 0.01

    rows[0].find_element(By.CSS_SELECTOR, ".play-small").click()
    player = browser.find_element(By.ID, "player")
    wait.until(lambda d: player.get_attribute("data-playing") == "true")
    scheduled = browser.execute_script("return JSON.parse(document.getElementById('player').dataset.scheduled)")
    expected = browser.execute_script("return window.stemFinder.selected.offset_seconds")
    assert scheduled["offset"] == pytest.approx(expected, abs=1e-3)
    assert scheduled["stemStartDelay"] == pytest.approx(max(0.0, expected), abs=1e-3)
    assert browser.execute_script("return window.stemFinder.ctx.state") == "running"

    browser.find_element(By.CSS_SELECTOR, '[data-nudge="0.01"]').click()  # shift by hand: +10 ms
    assert float(player.get_attribute("data-offset")) == pytest.approx(expected + 0.01, abs=1e-3)

    alternatives = browser.execute_script("return window.stemFinder.selected.offset_alternatives_seconds")
    buttons = browser.find_elements(By.CSS_SELECTOR, "#offset-alternatives .alternative")
    assert len(buttons) == len(alternatives)
    if alternatives:  # a runner-up offset is one click away
        buttons[0].click()
        assert float(player.get_attribute("data-offset")) == pytest.approx(alternatives[0], abs=1e-3)

    out = REPO / "artifacts"
    out.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(out / "web-page.png"))
    assert browser.save_screenshot(str(tmp_path / "web-page.png"))

    silence = tmp_path / "silence.wav"  # the error state: the API's message is shown, the page still works
    silence.write_bytes(wav_bytes(np.zeros(16_000 * 3, dtype=np.float32)))
    browser.find_element(By.ID, "file-input").send_keys(str(silence))
    wait.until(ec.element_to_be_clickable((By.ID, "search-btn"))).click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "error")
    assert "silent" in browser.find_element(By.ID, "error-box").text
    assert browser.save_screenshot(str(out / "web-page-error.png"))


@pytest.mark.browser
def test_api_docs_render_offline(browser, live_url: str) -> None:  # type: ignore[no-untyped-def]
    """/docs draws the OpenAPI operations from the app's own Swagger UI files: the browser here has no
    network beyond loopback, and the page names no outside host."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_url + "/docs")
    WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path")))
    paths = {el.text.replace("\u200b", "") for el in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/retrieve", "/stems/{stem_id}/export"} <= paths
    assert "http" not in browser.page_source.split("<body")[0].replace(live_url, "")


@pytest.mark.browser
@pytest.mark.slow
def test_producer_workflow_key_tempo_conformed_preview_bars_and_export(browser, live_url: str,  # type: ignore[no-untyped-def]
                                                                        tmp_path: Path) -> None:
    """Upload -> results with BPM, key and why each fits, sorted and filtered in the page -> conformed playback
    (toggle, A/B, loop, bar and beat nudges) -> the export link gives the conformed stem placed at bar 1."""
    import re

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    mix = tmp_path / "mix without bass.wav"
    mix.write_bytes(mix_without("bass"))
    wait = WebDriverWait(browser, 60)
    browser.get(live_url + "/")
    wait.until(ec.text_to_be_present_in_element((By.ID, "server-status"), "stems"))
    browser.find_element(By.ID, "file-input").send_keys(str(mix))
    wait.until(lambda d: "MB" in d.find_element(By.ID, "qs-meta").text)
    browser.find_element(By.CSS_SELECTOR, '#instrument-picker [data-instrument="bass"]').click()
    browser.find_element(By.CSS_SELECTOR, "details.advanced summary").click()
    browser.find_element(By.ID, "transpose-input").send_keys("6")
    browser.find_element(By.ID, "stretch-input").send_keys("25")
    wait.until(ec.element_to_be_clickable((By.ID, "search-btn"))).click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "results")

    results = browser.execute_script("return window.stemFinder.results")
    query = browser.execute_script("return window.stemFinder.response.query")
    rows = browser.find_elements(By.CSS_SELECTOR, "#results-list .result")
    assert len(rows) == len(results) == SONGS
    for row, r in zip(rows, results, strict=True):  # BPM, key with its Camelot code, and why it fits
        shown_bpm = re.search(r"(\d+\.\d) BPM", row.text)
        assert shown_bpm and abs(float(shown_bpm[1]) - r["bpm"]) <= 0.051 and f"({r['camelot']})" in row.text
        assert re.search(r"(same tempo|tempo \d+ % off)", row.find_element(By.CSS_SELECTOR, ".r-why").text)
        assert "TOP" not in row.text.upper().split("STARTS AT")[0]  # no bare "top 4.2 %" label

    Select(browser.find_element(By.ID, "sort-select")).select_by_value("bpm")
    listed = browser.find_elements(By.CSS_SELECTOR, "#results-list .result")
    shown = [float(li.get_attribute("data-bpm")) for li in listed]
    assert shown == sorted(shown)
    cut = sorted(shown)[len(shown) // 2]
    browser.find_element(By.ID, "bpm-min-filter").send_keys(f"{cut:.3f}")
    visible = [li for li in browser.find_elements(By.CSS_SELECTOR, "#results-list .result") if li.is_displayed()]
    assert len(visible) == sum(b >= round(cut, 3) for b in shown) and 0 < len(visible) < len(shown)
    browser.find_element(By.ID, "bpm-min-filter").clear()
    browser.execute_script("document.getElementById('bpm-min-filter').dispatchEvent(new Event('input'))")
    Select(browser.find_element(By.ID, "key-filter")).select_by_value("same")
    same = [li for li in browser.find_elements(By.CSS_SELECTOR, "#results-list .result") if li.is_displayed()]
    assert len(same) == sum((r["conformed_camelot"] or r["camelot"]) == query["camelot"] for r in results)
    Select(browser.find_element(By.ID, "key-filter")).select_by_value("any")
    Select(browser.find_element(By.ID, "sort-select")).select_by_value("fit")
    out = REPO / "artifacts"
    out.mkdir(exist_ok=True)
    browser.save_screenshot(str(out / "web-page-results.png"))

    conformed = [r for r in results if r["transpose_semitones"] or r["stretch_ratio"] != 1]
    assert conformed, "with 6 semitones and 25 % allowed, some stem should need conforming"
    target = conformed[0]
    row = browser.find_element(By.CSS_SELECTOR, f'#results-list .result[data-stem-id="{target["stem_id"]}"]')
    row.find_element(By.CSS_SELECTOR, ".play-small").click()
    player = browser.find_element(By.ID, "player")
    wait.until(lambda d: player.get_attribute("data-playing") == "true")
    assert player.get_attribute("data-conformed") == "true"
    assert f"transpose={target['transpose_semitones']}" in player.get_attribute("data-stem-url")
    assert "(suggested" in browser.find_element(By.ID, "offset-note").text  # never "+0.000 s from the suggestion"
    stem_seconds = browser.execute_script("return currentStem().duration")
    original = target["duration_seconds"]
    assert stem_seconds == pytest.approx(original / target["stretch_ratio"], rel=0.02)  # played at the mix's tempo

    browser.find_element(By.ID, "conformed-toggle").click()  # original, then back
    wait.until(lambda d: player.get_attribute("data-conformed") == "false")
    assert "transpose" not in player.get_attribute("data-stem-url")
    browser.find_element(By.ID, "conformed-toggle").click()
    wait.until(lambda d: player.get_attribute("data-conformed") == "true")

    offset = float(player.get_attribute("data-offset"))
    if query["beat_period_seconds"]:  # bars and beats of the mix's grid
        assert re.match(r"bar -?\d+ · beat \d", browser.find_element(By.ID, "offset-bars").text)
        browser.find_element(By.CSS_SELECTOR, '[data-nudge-beats="1"]').click()
        beat = query["beat_period_seconds"]
        assert float(player.get_attribute("data-offset")) == pytest.approx(offset + beat, abs=1e-3)
        browser.find_element(By.CSS_SELECTOR, '[data-nudge-beats="-1"]').click()
        assert float(player.get_attribute("data-offset")) == pytest.approx(offset, abs=1e-3)
    assert browser.find_element(By.ID, "curve").get_attribute("data-layers") == "fit"  # the fused curve
    browser.find_element(By.ID, "model-curve-toggle").click()  # and the model's frame curve as a layer
    assert browser.find_element(By.ID, "curve").get_attribute("data-layers") == "fit,model"
    browser.find_element(By.ID, "loop-toggle").click()
    loop = browser.execute_script("return window.stemFinder.loop")
    assert loop and loop["end"] > loop["start"] >= 0
    browser.save_screenshot(str(out / "web-page-player.png"))

    other = next(r for r in results if r["stem_id"] != target["stem_id"])  # A/B between two candidates
    browser.find_element(By.CSS_SELECTOR, f'#results-list .result[data-stem-id="{other["stem_id"]}"]').click()
    wait.until(lambda d: d.find_element(By.ID, "player").get_attribute("data-ready") == "true")
    wait.until(ec.element_to_be_clickable((By.ID, "ab-btn"))).click()
    wait.until(lambda d: d.execute_script("return window.stemFinder.selected.stem_id") == target["stem_id"])
    assert float(player.get_attribute("data-offset")) == pytest.approx(offset, abs=1e-3)  # its own place kept

    href = browser.find_element(By.ID, "export-wav").get_attribute("href")
    assert f"/stems/{target['stem_id']}/export" in href and f"transpose={target['transpose_semitones']}" in href
    head = browser.execute_script(
        "const r = await fetch(arguments[0]); const b = new Uint8Array(await r.arrayBuffer());"
        "return [r.status, r.headers.get('content-disposition'), String.fromCharCode(...b.slice(0, 4)), b.length]",
        href)
    assert head[0] == 200 and "attachment" in head[1] and head[2] == "RIFF" and head[3] > 44

    browser.execute_script(  # a long song's offset stays on one line in the list
        "const s = window.stemFinder; const body = structuredClone(s.response);"
        "body.results[0].offset_seconds = 123.456; renderResults(body);")
    cell = browser.find_element(By.CSS_SELECTOR, "#results-list .result .offset-v")
    assert "+2:03.46" in cell.text
    assert browser.execute_script("return arguments[0].getClientRects().length", cell) == 1
