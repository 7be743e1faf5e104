"""Browser fixtures: one headless Chromium for the session, one real `scheduler serve` and a loopback
receiver per module, and a `Console` page object signed out at the start of each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.browser import HEIGHT, OPERATOR_KEY, WIDTH, Console, screenshots_dir, start_chromium
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess


@pytest.fixture(scope="session")
def chromium() -> Iterator[WebDriver]:
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("console") / "data", {"SCHEDULER_OPERATOR_KEY": OPERATOR_KEY})
    process.start()
    yield process
    process.kill()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshots_dir(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture
def console(chromium: WebDriver, server: ServerProcess, shots: Path) -> Iterator[Console]:
    chromium.set_window_size(WIDTH, HEIGHT)
    page = Console(chromium, server.url, shots)
    page.script_problems()  # drop what earlier tests logged
    yield page
    problems = page.script_problems()
    chromium.get("about:blank")  # stop the page's polling before the next test
    assert not problems, problems


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client
