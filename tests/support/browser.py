"""Driving the web console in Debian's headless Chromium (Selenium + the system chromedriver).

`make browser-deps` installs both; nothing is downloaded at run time (the driver's path is given, so
Selenium Manager never runs). `Console` is a small page object: every wait has a deadline and polls
the DOM, no sleeps. Screenshots go to `$CONSOLE_SCREENSHOTS` (docs/console with `make screenshots`)
or to the test's temporary directory.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

WIDTH, HEIGHT = 1200, 860
OPERATOR_KEY = "op_browser_operator_key_0123456789"  # the browser tests' server makes a tenant on a plan
DEFAULT_TIMEOUT_S = 15.0


def find_binaries() -> tuple[str, str]:
    """Paths of chromium and chromedriver; a clear failure when they are missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        raise RuntimeError("the console's browser tests need chromium and chromedriver: run `make browser-deps`")
    return browser, driver


def start_chromium() -> WebDriver:
    """A headless Chromium with the browser console log kept (to catch CSP violations)."""
    browser, driver = find_binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--force-device-scale-factor=1",
        "--lang=en-GB",
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    chrome.set_page_load_timeout(30)
    return chrome


class Console:
    """The console at `base_url` in `driver`."""

    def __init__(self, driver: WebDriver, base_url: str, shots: Path) -> None:
        self.driver = driver
        self.base_url = base_url.rstrip("/")
        self.shots = shots

    # ---- navigation -----------------------------------------------------------------------
    def open(self, hash_path: str = "") -> None:
        url = f"{self.base_url}/console{hash_path}"
        if self.driver.current_url.split("#")[0] == f"{self.base_url}/console" and hash_path:
            self.driver.execute_script("location.hash = arguments[0]", hash_path)
        else:
            self.driver.get(url)

    def sign_in(self, token: str) -> None:
        """Sign out if needed, then sign in with `token` through the form (typing, then Enter)."""
        self.driver.get(f"{self.base_url}/console#/messages")
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.refresh()
        field = self.wait_for("input[name=api-key]")
        field.send_keys(token + "\n")
        self.wait_for("#nav a[aria-current=page]")

    # ---- waiting --------------------------------------------------------------------------
    def until(self, condition: Callable[[], Any], timeout_s: float = DEFAULT_TIMEOUT_S, what: str = "") -> Any:
        """Poll `condition()` until it returns something truthy (stale elements count as not yet)."""

        def check(_driver: WebDriver) -> Any:
            try:
                return condition()
            except StaleElementReferenceException:
                return None

        try:
            return WebDriverWait(self.driver, timeout_s, poll_frequency=0.05).until(check)
        except TimeoutException as exc:
            raise AssertionError(f"not within {timeout_s}s: {what or condition}") from exc

    def wait_for(self, css: str, text: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> WebElement:
        """The first visible element matching `css` (and containing `text`)."""

        def found() -> WebElement | None:
            for element in self.driver.find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed() and (text is None or text in element.text):
                    return element
            return None

        return self.until(found, timeout_s, f"{css!r} with {text!r}")  # type: ignore[no-any-return]

    def wait_gone(self, css: str, text: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        def gone() -> bool:
            return not any(
                e.is_displayed() and (text is None or text in e.text)
                for e in self.driver.find_elements(By.CSS_SELECTOR, css)
            )

        self.until(gone, timeout_s, f"{css!r} with {text!r} to go")

    def button(self, label: str, within: str = "main") -> WebElement:
        """The visible, enabled button whose text is `label`."""
        xpath = f".//button[normalize-space()={_xpath_literal(label)}]"

        def found() -> WebElement | None:
            for scope in self.driver.find_elements(By.CSS_SELECTOR, within):
                for element in scope.find_elements(By.XPATH, xpath):
                    if element.is_displayed() and element.is_enabled():
                        return element
            return None

        return self.until(found, what=f"button {label!r} in {within}")  # type: ignore[no-any-return]

    def buttons(self) -> list[str]:
        """Texts of the visible buttons in the page's main area."""
        return [b.text for b in self.driver.find_elements(By.CSS_SELECTOR, "main button") if b.is_displayed()]

    def field(self, label: str, within: str = "main") -> WebElement:
        """The form control labelled `label` (by its <label for>)."""
        xpath = f".//label[normalize-space()={_xpath_literal(label)}]"

        def found() -> WebElement | None:
            for scope in self.driver.find_elements(By.CSS_SELECTOR, within):
                for label_el in scope.find_elements(By.XPATH, xpath):
                    target = label_el.get_attribute("for")
                    if target and label_el.is_displayed():
                        return self.driver.find_element(By.ID, target)
            return None

        return self.until(found, what=f"field {label!r}")  # type: ignore[no-any-return]

    def set_value(self, element: WebElement, value: str) -> None:
        """Set an input's value as a user's edit would (input and change events)."""
        self.driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            element,
            value,
        )

    def text(self, css: str = "main") -> str:
        return str(self.driver.find_element(By.CSS_SELECTOR, css).text)

    # ---- checks -----------------------------------------------------------------------------
    def unlabelled_controls(self) -> list[str]:
        """Visible inputs, selects and textareas without a label or aria-label."""
        return list(
            self.driver.execute_script(
                "return [...document.querySelectorAll('input, select, textarea')]"
                ".filter(el => el.offsetParent !== null && el.type !== 'hidden')"
                ".filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))"
                ".map(el => el.outerHTML.slice(0, 120));"
            )
        )

    def overflows_horizontally(self) -> bool:
        return bool(self.driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth + 1"))

    def script_problems(self) -> list[str]:
        """Content-Security-Policy violations and uncaught errors logged since the last call."""
        entries = self.driver.get_log("browser")  # type: ignore[attr-defined]
        words = ("Content Security Policy", "Uncaught", "SyntaxError", "TypeError", "ReferenceError")
        return [e["message"] for e in entries if any(word in e["message"] for word in words)]

    def shot(self, name: str, max_height: int = 1500) -> Path:
        """A PNG of the page (up to `max_height` CSS pixels tall) under the screenshots directory."""
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        width, height = self.driver.execute_script(
            "document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);"
            "return [window.innerWidth, document.documentElement.scrollHeight];"
        )
        metrics = {"width": width, "height": min(height, max_height), "deviceScaleFactor": 1, "mobile": False}
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # type: ignore[attr-defined]
        try:
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})  # type: ignore[attr-defined]
        return path


def _xpath_literal(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    parts = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{part}'" for part in parts) + ")"


def screenshots_dir(default: Path) -> Path:
    """`$CONSOLE_SCREENSHOTS` (relative to the repository) or `default`."""
    configured = os.environ.get("CONSOLE_SCREENSHOTS")
    if not configured:
        return default
    path = Path(configured)
    return path if path.is_absolute() else Path(__file__).resolve().parents[2] / path
