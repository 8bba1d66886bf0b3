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
    assert "bass" in rows[0].text and "%" in rows[0].text

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
