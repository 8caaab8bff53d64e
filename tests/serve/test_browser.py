"""The web page in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
driven by selenium against `python -m textcycle.serve` with the bundled yelp model.

Skips only when Chromium or its driver is not installed. Set TEXTCYCLE_UPDATE_SCREENSHOT=1 to
write docs/images/serve.png (otherwise the screenshot goes to the test's temporary folder).
"""

from __future__ import annotations

import os
import shutil

import pytest

from .conftest import REPO

httpx = pytest.importorskip("httpx")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

NEGATIVE = "the food was cold and the waiter was rude"
SCREENSHOT = REPO / "docs" / "images" / "serve.png"


def find_browser() -> tuple[str, str]:
    browser = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if os.path.exists(p)), None
    )
    if not browser or not driver:
        pytest.skip(
            "headless Chromium not found: apt-get install -y chromium chromium-driver "
            f"(chromium: {browser or 'missing'}, chromedriver: {driver or 'missing'})"
        )
    return browser, driver


@pytest.fixture
def browser():
    binary, driver_path = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=960,760",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    # the driver is Debian's, never one that selenium would try to download
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def rewrite_on_page(driver, text: str, wait: WebDriverWait):
    box = driver.find_element(By.ID, "texts")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.ID, "go").click()


def test_page_rewrites_in_a_real_browser(start_server, browser, tmp_path):
    server = start_server("--model", "yelp")
    server.wait_ready()
    expected = httpx.post(f"{server.url}/v1/rewrite", json={"texts": [NEGATIVE]}, timeout=60).json()["results"][0]
    wait = WebDriverWait(browser, 60)

    browser.get(server.url + "/")
    wait.until(EC.element_to_be_clickable((By.ID, "go")))  # the models are listed
    assert "yelp" in browser.find_element(By.ID, "model").text
    styles = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#to option")]
    assert styles[1:] == ["negative", "positive"]

    # one negative sentence, direction auto: its positive rewrite appears beside it
    rewrite_on_page(browser, NEGATIVE, wait)
    card = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#results .result")))
    assert card.find_element(By.CSS_SELECTOR, ".source .text").text == NEGATIVE
    assert card.find_element(By.CSS_SELECTOR, ".rewrite .text").text == expected["rewrite"]
    assert card.get_attribute("data-detected") == "negative" and card.get_attribute("data-target") == "positive"
    assert card.find_element(By.CSS_SELECTOR, ".style.target").text == "positive"
    width = browser.execute_script("return document.querySelector('.bar > span').style.width")
    assert width == f"{round(expected['style_probability'] * 100)}%"

    # alternatives: rerank candidates with scores, for two sentences, into positive
    browser.find_element(By.CSS_SELECTOR, "#rerank option[value='4']").click()
    browser.find_element(By.CSS_SELECTOR, "#to option[value='positive']").click()
    rewrite_on_page(browser, NEGATIVE + "\nthe room was dirty and the staff did not care", wait)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results .result details")) == 2)
    first = browser.find_elements(By.CSS_SELECTOR, "#results .result")[0]
    first.find_element(By.TAG_NAME, "summary").click()
    items = first.find_elements(By.CSS_SELECTOR, ".candidates li")
    assert 1 <= len(items) <= 4 and all(i.find_element(By.CLASS_NAME, "score").text for i in items)
    assert items[0].text.startswith(first.find_element(By.CSS_SELECTOR, ".rewrite .text").text)
    shot = SCREENSHOT if os.environ.get("TEXTCYCLE_UPDATE_SCREENSHOT") == "1" else tmp_path / "serve.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 5000

    # an over-long line: the API's own message is shown
    browser.execute_script(
        "const t = document.getElementById('texts'); t.value = 'a'.repeat(2001);t.dispatchEvent(new Event('input'));"
    )
    browser.find_element(By.ID, "go").click()
    error = wait.until(EC.visibility_of_element_located((By.ID, "error")))
    api_message = httpx.post(f"{server.url}/v1/rewrite", json={"texts": ["a" * 2001]}).json()["error"]
    assert error.text == api_message and "2001 characters" in error.text

    # phone width: nothing wider than the screen, source above rewrite
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True}
    )
    rewrite_on_page(browser, NEGATIVE, wait)
    wait.until(
        lambda d: (
            not d.find_element(By.ID, "error").is_displayed()
            and len(d.find_elements(By.CSS_SELECTOR, "#results .result")) == 1
        )
    )
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 375
    card = browser.find_element(By.CSS_SELECTOR, "#results .result")
    src, out = (card.find_element(By.CSS_SELECTOR, s) for s in (".source", ".rewrite"))
    assert out.location["y"] >= src.location["y"] + src.size["height"]
    browser.save_screenshot(str(tmp_path / "serve-phone.png"))
    assert "Traceback" not in server.log()
