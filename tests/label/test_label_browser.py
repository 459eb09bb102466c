"""End-to-end: the labelling page in headless Chromium (Selenium) against a real uvicorn server.

Skips cleanly when Chromium, its driver or Selenium is missing (``make browser`` installs them).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_photos

from pixgrade.catalog.judgements import JudgementStore
from pixgrade.label.session import LabelSession
from pixgrade.label.transfer import register_images
from pixgrade.serve.labelling import create_label_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    import uvicorn

    make_photos(tmp_path / "photos", 24)
    catalog = tmp_path / "cat.sqlite"
    store = JudgementStore(catalog)
    register_images(store, [tmp_path / "photos"])
    session = LabelSession(store, strategy="random", model=None, overlap=0.0)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_label_app(session), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", catalog
    finally:
        server.should_exit = True
        thread.join(15)
        store.close()


@pytest.fixture
def browser() -> Iterator[object]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("headless Chromium not installed (Debian packages chromium and chromium-driver; `make browser`)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager try to download a driver
    options = Options()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _label(driver: object, keys: list[str]) -> list[str]:
    """Press each key once the page shows an item; returns the SHA-256 of the items judged."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 120)
    body = driver.find_element(By.TAG_NAME, "body")  # type: ignore[attr-defined]
    judged = []
    for key in keys:
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        judged.append(body.get_attribute("data-item-sha"))
        body.send_keys(key)
        wait.until(lambda d, sha=judged[-1]: d.find_element(By.TAG_NAME, "body").get_attribute("data-item-sha") != sha)
    return judged


def _mine(driver: object) -> int:
    from selenium.webdriver.common.by import By

    return int(driver.find_element(By.ID, "progress").get_attribute("data-mine") or 0)  # type: ignore[attr-defined]


def test_ten_grades_by_keyboard_survive_a_reload_and_two_annotators_work_at_once(
    server: tuple[str, Path], browser: object
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, catalog = server
    driver = browser
    wait = WebDriverWait(driver, 120)
    driver.get(f"{url}/label?annotator=ann&mode=grades")  # type: ignore[attr-defined]
    grades = ["0", "1", "2", "3", "4", "5", "4", "3", "2", "1"]
    ann = _label(driver, grades)
    assert len(set(ann)) == 10
    wait.until(lambda d: _mine(d) == 10)
    # the standard (the built-in summary here) and zoom are on the page
    assert "grade" in driver.find_element(By.ID, "standard").text.lower()  # type: ignore[attr-defined]

    driver.refresh()  # type: ignore[attr-defined]
    wait.until(lambda d: _mine(d) == 10)
    recent = driver.find_elements(By.CSS_SELECTOR, "#recent .judgement")  # type: ignore[attr-defined]
    assert [r.get_attribute("data-value") for r in recent] == [
        str(float(g)).rstrip("0").rstrip(".") for g in reversed(grades)
    ]

    # a second annotator in another tab, while the first one has an item open
    first_tab = driver.current_window_handle  # type: ignore[attr-defined]
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
    open_for_ann = driver.find_element(By.TAG_NAME, "body").get_attribute("data-item-sha")  # type: ignore[attr-defined]
    driver.switch_to.new_window("tab")  # type: ignore[attr-defined]
    driver.get(f"{url}/label?annotator=bob&mode=grades")  # type: ignore[attr-defined]
    bob = _label(driver, ["5", "5", "4"])
    assert open_for_ann not in bob and not set(bob) & set(ann)
    wait.until(lambda d: _mine(d) == 3)
    # undo withdraws bob's latest only
    driver.find_element(By.TAG_NAME, "body").send_keys("u")  # type: ignore[attr-defined]
    wait.until(lambda d: _mine(d) == 2)
    driver.switch_to.window(first_tab)  # type: ignore[attr-defined]
    _label(driver, ["3"])
    wait.until(lambda d: _mine(d) == 11)

    with JudgementStore(catalog) as store:
        assert len(store.judgements(annotator="ann")) == 11
        assert len(store.judgements(annotator="bob")) == 2
