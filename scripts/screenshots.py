"""The README's screenshots of the page, taken in headless Chromium against a running service (`make demo`):
the shipped sample mix searched for its missing bass with conforming allowed, the results list, then the player
on the best result. Usage: python scripts/screenshots.py [URL] [OUT_DIR]."""

import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "service" / "static" / "sample-mix.flac"


def main(url: str = "http://127.0.0.1:8000", out: Path = REPO / "docs" / "img") -> None:
    out.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as profile:
        for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                    "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}",
                    "--window-size=1400,1000"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            wait = WebDriverWait(driver, 120)
            driver.get(url + "/")
            wait.until(ec.text_to_be_present_in_element((By.ID, "server-status"), "stems"))
            driver.find_element(By.ID, "file-input").send_keys(str(SAMPLE))
            wait.until(lambda d: "MB" in d.find_element(By.ID, "qs-meta").text)
            driver.find_element(By.CSS_SELECTOR, '#instrument-picker [data-instrument="bass"]').click()
            driver.find_element(By.CSS_SELECTOR, "details.advanced summary").click()
            driver.find_element(By.ID, "transpose-input").send_keys("2")
            driver.find_element(By.ID, "stretch-input").send_keys("8")
            wait.until(ec.element_to_be_clickable((By.ID, "search-btn"))).click()
            wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "results")
            driver.save_screenshot(str(out / "page-results.png"))
            driver.find_element(By.CSS_SELECTOR, "#results-list .result .play-small").click()
            wait.until(lambda d: d.find_element(By.ID, "player").get_attribute("data-playing") == "true")
            driver.find_element(By.ID, "model-curve-toggle").click()
            time.sleep(1.5)
            player = driver.find_element(By.ID, "player")
            driver.execute_script("arguments[0].scrollIntoView()", player)
            player.screenshot(str(out / "page-player.png"))
        finally:
            driver.quit()
    print(f"wrote {out / 'page-results.png'} and {out / 'page-player.png'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000",
         Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "docs" / "img")
