"""The score page's sort and filter buttons, in headless Chromium (skips when Chromium/Selenium are missing)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pixgrade.pipeline import ImageResult
from pixgrade.report.score_page import write_score_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def driver() -> Iterator[Any]:
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("headless Chromium not installed (Debian packages chromium and chromium-driver; `make browser`)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    yield browser
    browser.quit()


def test_sort_and_filter_buttons(tmp_path: Path, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    rows = [
        ImageResult(path="c/b.jpg", score=4.2, grade=4).to_row(),
        ImageResult(path="a/z.jpg", score=1.1, grade=1).to_row(),
        ImageResult(path="b/broken.jpg", error="not an image").to_row(),
        ImageResult(path="d/a.jpg", score=2.6, grade=3).to_row(),
    ]
    page = write_score_page(rows, tmp_path / "index.html", thumbnails=False)
    driver.get(page.as_uri())

    def order(visible_only: bool = False) -> list[str]:
        cards = driver.find_elements(By.CSS_SELECTOR, "article.card")
        return [c.get_attribute("data-path") for c in cards if c.is_displayed() or not visible_only]

    assert order() == ["b/broken.jpg", "a/z.jpg", "d/a.jpg", "c/b.jpg"]  # worst first
    driver.find_element(By.CSS_SELECTOR, "button[data-sort=path]").click()
    assert order() == ["a/z.jpg", "b/broken.jpg", "c/b.jpg", "d/a.jpg"]
    driver.find_element(By.CSS_SELECTOR, "button[data-sort=best]").click()
    assert order()[:3] == ["c/b.jpg", "d/a.jpg", "a/z.jpg"]
    driver.find_element(By.CSS_SELECTOR, "button[data-show=errors]").click()
    assert order(visible_only=True) == ["b/broken.jpg"]
    driver.find_element(By.CSS_SELECTOR, "button[data-show=problems]").click()
    assert sorted(order(visible_only=True)) == ["a/z.jpg", "b/broken.jpg"]
    driver.find_element(By.CSS_SELECTOR, "button[data-sort=worst]").click()
    driver.find_element(By.CSS_SELECTOR, "button[data-show=all]").click()
    assert order(visible_only=True) == ["b/broken.jpg", "a/z.jpg", "d/a.jpg", "c/b.jpg"]
