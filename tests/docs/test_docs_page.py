"""/docs in a real headless Chromium (Debian's chromium + chromedriver, python3-selenium): Swagger UI renders
the routes of /openapi.yaml from the assets embedded in m2d-server, and one "Try it out" /embed call with an
uploaded WAV succeeds. M2D_SCREENSHOT=PATH saves the page (the README's picture).
Run: /usr/bin/python3 -m pytest -q tests/docs   (M2D_BIN: folder of the binaries, default .build/debug)"""
import json
import os
import sys

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "clients", "python"))
from m2d_serve.local import LocalServer  # noqa: E402

BIN = os.environ.get("M2D_BIN", os.path.join(REPO, ".build", "debug"))
MODEL = os.path.join(REPO, "Tests", "Fixtures", "golden", "tiny_208", "model")
WAV = os.path.join(REPO, "Tests", "Fixtures", "golden", "audio", "five_sec_tone_noise.wav")


@pytest.fixture(scope="module")
def server():
    with LocalServer(MODEL, binary=os.path.join(BIN, "m2d-server")) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1600", "--no-first-run", "--disable-extensions"]:
        options.add_argument(flag)
    service = Service(executable_path="/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()


def test_page_renders_every_route_and_try_it_out_embeds_an_upload(server, browser):
    browser.get(server.url + "/docs")
    wait = WebDriverWait(browser, 60)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#operations-inference-embed")))
    paths = {e.text.replace("\u200b", "") for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    spec_paths = set(server_paths(server))
    assert spec_paths <= paths, f"routes not rendered: {sorted(spec_paths - paths)}"
    title = browser.find_element(By.CSS_SELECTOR, ".info .title").text
    assert "m2d-server" in title

    embed = browser.find_element(By.CSS_SELECTOR, "#operations-inference-embed")
    embed.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda d: embed.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
    embed.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    upload = wait.until(lambda d: embed.find_elements(By.CSS_SELECTOR, "input[type=file]"))[0]
    upload.send_keys(WAV)
    embed.find_element(By.CSS_SELECTOR, ".execute").click()
    status = wait.until(lambda d: embed.find_elements(
        By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"))[0]
    body = wait.until(lambda d: embed.find_elements(
        By.CSS_SELECTOR, ".live-responses-table .response-col_description pre"))[0].text
    assert status.text.strip() == "200", body[:500]
    answer = json.loads(body)
    assert answer["dim"] == 960 and len(answer["data"]) == 1 and len(answer["data"][0]["embedding"]) == 960
    assert abs(answer["data"][0]["duration_seconds"] - 5.0) < 0.01
    shot = os.environ.get("M2D_SCREENSHOT")
    if shot:
        live = embed.find_element(By.CSS_SELECTOR, ".live-responses-table")
        browser.execute_script("arguments[0].scrollIntoView(); window.scrollBy(0, -700);", live)
        browser.save_screenshot(shot)


def server_paths(server):
    """The GET/POST paths of the served spec (Swagger UI shows each once per method)."""
    import urllib.request
    import yaml
    with urllib.request.urlopen(server.url + "/openapi.yaml") as r:
        spec = yaml.safe_load(r.read())
    return sorted(spec["paths"])
