"""The web console in a real browser, against a real server: what a newcomer does without a terminal.

Each test signs in through the page, acts with clicks and typing, and checks the outcome both on the
screen and through the API (what the console shows must be what happened). The screenshots of
docs/console.md are taken here (`make screenshots`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from selenium.webdriver.common.by import By

from tests.support.browser import OPERATOR_KEY, Console
from tests.support.receiver import Receiver
from tests.support.server import ADMIN_KEY, ServerProcess, wait_until

pytestmark = pytest.mark.e2e


def make_app(api: httpx.Client, url: str, name: str = "hooks") -> dict[str, Any]:
    response = api.post("/apps", json={"name": name, "url": url})
    assert response.status_code == 201, response.text
    return dict(response.json())


def make_message(api: httpx.Client, app_id: str, **when: Any) -> dict[str, Any]:
    response = api.post("/messages", json={"appId": app_id, "payload": {"order": 42}, **(when or {"delaySeconds": 0})})
    assert response.status_code == 201, response.text
    return dict(response.json())


def message_status(api: httpx.Client, message_id: str) -> str:
    return str(api.get(f"/messages/{message_id}").json()["status"])


def make_key(api: httpx.Client, *scopes: str, name: str = "reader") -> str:
    response = api.post("/keys", json={"name": name, "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def test_sign_in_explains_a_wrong_key_then_shows_the_scopes(console: Console) -> None:
    console.open()
    field = console.wait_for("input[name=api-key]")
    assert field.get_attribute("type") == "password"
    field.send_keys("sk_not_a_key_of_this_server_000000\n")
    alert = console.wait_for("[role=alert]")
    assert "Not signed in" in alert.text and "sign in again" in alert.text
    assert console.unlabelled_controls() == []
    console.shot("signin")

    console.sign_in(ADMIN_KEY)
    assert console.text(".scopes") == "admin"
    nav = console.text("#nav")
    assert all(page in nav for page in ("Messages", "Apps", "API keys", "Usage", "Live tail"))
    # The key lives in this tab's sessionStorage only: not in the URL, not in a cookie.
    assert ADMIN_KEY not in console.driver.current_url
    assert console.driver.get_cookies() == []
    assert ADMIN_KEY in console.driver.execute_script("return sessionStorage.getItem('scheduler.console.session')")
    console.button("Sign out", within="header").click()
    console.wait_for("input[name=api-key]")
    assert console.driver.execute_script("return sessionStorage.length") == 0


def test_create_an_app_shows_its_secret_once(console: Console, api: httpx.Client, receiver: Receiver) -> None:
    console.sign_in(ADMIN_KEY)
    console.open("#/apps")
    console.wait_for("summary", "Create an app").click()
    console.field("Name").send_keys("orders")
    console.field("Endpoint URL").send_keys(receiver.url("/ok"))
    console.button("Add a header").click()
    console.field("Header name").send_keys("x-api-token")
    console.field("Value (write-only)").send_keys("t0ps3cret")
    console.button("Create app").click()
    secret = console.wait_for(".secret-panel input.secret").get_attribute("value")
    assert secret and secret.startswith("whsec_")
    row = console.wait_for("tr", "orders")
    assert "x-api-token" in row.text and "t0ps3cret" not in console.text()
    console.shot("apps")

    created = [a for a in api.get("/apps").json()["items"] if a["name"] == "orders"]
    assert len(created) == 1 and created[0]["headers"] == {"x-api-token": "***"}
    console.open("#/messages")
    console.open("#/apps")
    console.wait_for("tr", "orders")
    assert not console.driver.find_elements(By.CSS_SELECTOR, ".secret-panel"), "the secret is shown once only"


def test_schedule_a_message_and_watch_it_turn_delivered(
    console: Console, api: httpx.Client, receiver: Receiver
) -> None:
    app = make_app(api, receiver.url("/ok"), name="shop")
    before = len(receiver.records)
    for _ in range(3):
        make_message(api, app["id"], delaySeconds=3600)
    console.sign_in(ADMIN_KEY)
    console.wait_for("summary", "Schedule a message").click()
    form = console.wait_for("form[aria-label='Schedule a message']")
    console.set_value(console.field("App", within="form[aria-label='Schedule a message']"), app["id"])
    delay = console.field("Delay (seconds)")
    delay.clear()
    delay.send_keys("1")
    form.find_element(By.XPATH, ".//button[normalize-space()='Schedule']").click()
    console.wait_for("h1", "Message msg_")
    message_id = console.text("h1").split()[-1]
    console.wait_for(".facts .badge.delivered", timeout_s=20)
    console.wait_for(".timeline li.ok", "HTTP 200")
    assert '"order"' not in console.text(".payload") and '"hello": "world"' in console.text(".payload")
    assert message_status(api, message_id) == "delivered"
    delivered = receiver.wait_for(before + 1)
    assert delivered[-1].headers["webhook-id"] == message_id
    console.shot("message")

    console.open("#/messages")
    row = console.wait_for(f"tr[data-id='{message_id}']")
    assert "delivered" in row.text and "1/8" in row.text
    console.wait_for("tr", "scheduled")
    console.shot("messages")


def test_redrive_a_failed_message(console: Console, api: httpx.Client, receiver: Receiver) -> None:
    app = make_app(api, receiver.url("/status/410"), name="gone")
    message = make_message(api, app["id"])
    wait_until(lambda: message_status(api, message["id"]) == "failed")
    console.sign_in(ADMIN_KEY)
    console.open(f"#/messages/{message['id']}")
    console.wait_for(".facts", "the endpoint answered 410 Gone")
    assert "Cancel message" not in console.buttons()
    console.button("Redrive now").click()
    console.wait_for(".timeline li:nth-child(2)", "#2", timeout_s=20)
    console.wait_for(".facts .badge.failed")
    attempts = api.get(f"/messages/{message['id']}/attempts").json()["items"]
    assert [a["statusCode"] for a in attempts] == [410, 410]


def test_reschedule_in_a_time_zone_sends_if_match_and_explains_a_stale_etag(
    console: Console, api: httpx.Client, receiver: Receiver
) -> None:
    app = make_app(api, receiver.url("/ok"), name="later")
    message = make_message(api, app["id"], delaySeconds=7200)
    console.sign_in(ADMIN_KEY)
    console.open(f"#/messages/{message['id']}")
    console.wait_for(".facts .badge.scheduled")
    console.driver.find_element(By.XPATH, "//label[contains(., 'Live refresh')]/input").click()
    wall = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).astimezone(ZoneInfo("Asia/Tokyo")).replace(microsecond=0)
    console.set_value(console.field("Time zone", within="form[aria-label='Reschedule']"), "Asia/Tokyo")
    console.set_value(console.field("Date and time"), wall.strftime("%Y-%m-%dT%H:%M:%S"))
    expected = wall.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    console.wait_for("form[aria-label='Reschedule'] .hint", expected)
    console.button("Reschedule").click()
    console.wait_for("#status", "Rescheduled")
    assert api.get(f"/messages/{message['id']}").json()["sendAt"] == expected

    # Someone else changes it while the page still shows the old etag: 409, in words, and reloaded.
    console.wait_for(f".facts time[datetime='{expected}']")
    current = api.get(f"/messages/{message['id']}")
    changed = api.patch(
        f"/messages/{message['id']}",
        json={"sendAt": "2030-01-01T00:00:00Z"},
        headers={"If-Match": current.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    console.button("Reschedule").click()
    alert = console.wait_for("[role=alert]", "Conflict")
    assert "changed since this page showed it" in alert.text
    assert api.get(f"/messages/{message['id']}").json()["sendAt"] == changed.json()["sendAt"]


def test_revoke_a_key(console: Console, api: httpx.Client) -> None:
    console.sign_in(ADMIN_KEY)
    console.open("#/keys")
    console.field("Name").send_keys("ci-reader")
    console.button("Create key").click()
    token = console.wait_for(".secret-panel input.secret").get_attribute("value")
    assert token and token.startswith("sk_")
    with httpx.Client(base_url=api.base_url, headers={"authorization": f"Bearer {token}"}) as reader:
        assert reader.get("/me").json()["scopes"] == ["read"]
        row = console.wait_for("tr", "ci-reader")
        console.shot("keys")
        row.find_element(By.XPATH, ".//button[normalize-space()='Revoke']").click()
        dialog = console.wait_for("dialog", "Revoke ci-reader?")
        assert "cannot be undone" in dialog.text
        console.button("Revoke key", within="dialog").click()
        console.wait_gone("tr", "ci-reader")
        assert reader.get("/me").status_code == 401
    assert "Revoked ci-reader" in console.text("#status")


def test_a_read_only_key_sees_no_buttons_it_cannot_use(console: Console, api: httpx.Client, receiver: Receiver) -> None:
    app = make_app(api, receiver.url("/ok"), name="readonly-target")
    message = make_message(api, app["id"], delaySeconds=86400)
    console.sign_in(make_key(api, "read"))
    assert console.text(".scopes") == "read"
    assert "API keys" not in console.text("#nav")
    console.wait_for("table")
    assert not console.driver.find_elements(By.CSS_SELECTOR, "form[aria-label='Schedule a message']")

    console.open(f"#/messages/{message['id']}")
    console.wait_for(".facts .badge.scheduled")
    assert not {"Cancel message", "Reschedule", "Redrive now"} & set(console.buttons())
    assert not console.driver.find_elements(By.CSS_SELECTOR, "section[aria-label=Actions]")
    console.shot("message-read-only")

    console.open("#/apps")
    console.wait_for("tr", "readonly-target")
    assert not {"Create app", "Edit", "Rotate secret", "Delete"} & set(console.buttons())
    console.open("#/keys")  # not offered, and typed in by hand it falls back to Messages
    console.wait_for("h1", "Messages")
    assert message_status(api, message["id"]) == "scheduled"


def test_live_tail_and_usage_against_the_plan(console: Console, server: ServerProcess, receiver: Receiver) -> None:
    with server.client(OPERATOR_KEY) as operator:
        tenant = operator.post("/tenants", json={"name": "free-tenant", "plan": "free"}).json()
    with server.client(tenant["adminKey"]) as api:
        app = make_app(api, receiver.url("/ok"), name="metered")
        console.sign_in(tenant["adminKey"])
        console.open("#/tail")
        console.wait_for("h1", "Live tail")
        console.wait_for("[aria-live=polite]", "0 attempt(s) seen")
        sent = [make_message(api, app["id"]) for _ in range(3)]
        for message in sent:
            console.wait_for(f"table.tail a[href='#/messages/{message['id']}']")
        assert "HTTP 200" in console.text("table.tail")
        console.shot("tail")

        console.open("#/usage")
        console.wait_for("main p", "1,000 messages a day")
        console.wait_for("svg.chart .limit-label", "daily quota 1,000")
        today = dt.datetime.now(dt.UTC).date().isoformat()
        row = console.wait_for("tbody tr", today)
        assert row.text.split()[1:4] == ["3", "3", "0"], row.text  # scheduled, delivered, failed
        assert console.driver.find_elements(By.CSS_SELECTOR, "svg.chart rect.s-delivered")
        console.wait_for("svg.chart .limit-label", "above the scale")
        console.wait_for("main p", "From 3 delivered message(s)")
        console.shot("usage")
        console.driver.find_element(By.XPATH, "//label[contains(., 'Scale the chart')]/input").click()
        console.wait_gone("svg.chart .limit-label", "above the scale")
        console.wait_for("svg.chart .limit-label", "daily quota 1,000")


def test_usable_at_360_pixels_and_by_keyboard(console: Console, api: httpx.Client, receiver: Receiver) -> None:
    app = make_app(api, receiver.url("/ok"), name="mobile")
    message = make_message(api, app["id"], delaySeconds=600)
    console.driver.set_window_size(360, 780)
    console.sign_in(ADMIN_KEY)
    for page in ("#/messages", f"#/messages/{message['id']}", "#/apps", "#/keys", "#/usage", "#/tail"):
        console.open(page)
        console.wait_for("h1")
        console.wait_gone("main p.muted", "Loading")
        assert not console.overflows_horizontally(), page
        assert console.unlabelled_controls() == [], page
        if page == "#/messages":
            console.wait_for("table")
            console.shot("messages-360px")
    # Keyboard only: from the message page, Tab to "Cancel message", Enter, confirm with Enter.
    console.open(f"#/messages/{message['id']}")
    console.wait_for(".facts .badge.scheduled")
    for _ in range(40):
        if console.driver.switch_to.active_element.text == "Cancel message":
            break
        console.driver.switch_to.active_element.send_keys("\t")
    assert console.driver.switch_to.active_element.text == "Cancel message"
    console.driver.switch_to.active_element.send_keys("\n")
    console.wait_for("dialog", "Cancel this message?")
    console.driver.switch_to.active_element.send_keys("\t")  # from "Cancel" (the safe default) to confirm
    console.driver.switch_to.active_element.send_keys("\n")
    console.wait_for(".facts .badge.cancelled")
    assert message_status(api, message["id"]) == "cancelled"


def test_edit_rotate_and_delete_an_app_with_its_consequences(
    console: Console, api: httpx.Client, receiver: Receiver
) -> None:
    app = make_app(api, receiver.url("/ok?token=s3cret"), name="to-delete")
    pending = [make_message(api, app["id"], delaySeconds=3600) for _ in range(2)]
    console.sign_in(ADMIN_KEY)
    console.open("#/apps")
    row = console.wait_for(f"tr[data-id='{app['id']}']")
    assert "/ok?token=***" in row.text and "s3cret" not in console.driver.page_source  # query values: write-only
    row.find_element(By.XPATH, ".//button[normalize-space()='Edit']").click()
    assert (console.field("Endpoint URL", within="dialog").get_attribute("value") or "").endswith("?token=***")
    name = console.field("Name", within="dialog")
    name.clear()
    name.send_keys("renamed")
    console.button("Save", within="dialog").click()
    console.wait_for(f"tr[data-id='{app['id']}']", "renamed")
    assert api.get(f"/apps/{app['id']}").json()["name"] == "renamed"

    console.wait_for(f"tr[data-id='{app['id']}']").find_element(
        By.XPATH, ".//button[normalize-space()='Rotate secret']"
    ).click()
    assert "24 hours" in console.wait_for("dialog").text
    console.button("Rotate secret", within="dialog").click()
    secret = console.wait_for(".secret-panel input.secret").get_attribute("value")
    assert secret and secret.startswith("whsec_")

    console.wait_for(f"tr[data-id='{app['id']}']").find_element(
        By.XPATH, ".//button[normalize-space()='Delete']"
    ).click()
    dialog = console.wait_for("dialog", "Delete renamed?")
    assert "Its 2 scheduled message(s) are cancelled" in dialog.text and "cannot be undone" in dialog.text
    console.button("Delete app", within="dialog").click()
    console.wait_gone(f"tr[data-id='{app['id']}']")
    assert api.get(f"/apps/{app['id']}").status_code == 404
    for message in pending:
        assert api.get(f"/messages/{message['id']}").json()["failureReason"] == "app_deleted"


def test_cognito_sign_in_redirects_with_pkce_and_checks_the_state(
    console: Console, tmp_path: Any, receiver: Receiver
) -> None:
    """On AWS the page offers the hosted UI: authorization code + PKCE (S256), state checked on return."""
    import base64
    import hashlib
    from urllib.parse import parse_qs, urlsplit

    domain = "https://tenants.auth.invalid"
    env = {"SCHEDULER_CONSOLE_COGNITO_DOMAIN": domain, "SCHEDULER_CONSOLE_COGNITO_CLIENT_ID": "client-123"}
    aws_like = ServerProcess(tmp_path / "data", env).start()
    try:
        console.driver.get(f"{aws_like.url}/console")
        console.button("Sign in with Cognito").click()
        console.until(lambda: console.driver.current_url.startswith(domain), what="the hosted UI")
        sent = urlsplit(console.driver.current_url)
        query = {name: values[0] for name, values in parse_qs(sent.query).items()}
        assert sent.path == "/oauth2/authorize"
        assert query["response_type"] == "code" and query["client_id"] == "client-123"
        assert query["redirect_uri"] == f"{aws_like.url}/console" and query["code_challenge_method"] == "S256"
        assert query["scope"] == "openid email profile"

        console.driver.get(f"{aws_like.url}/console")  # back in the tab: the verifier is still in its storage
        pending = console.driver.execute_script("return JSON.parse(sessionStorage.getItem('scheduler.console.pkce'))")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(pending["verifier"].encode()).digest()).rstrip(b"=")
        assert query["code_challenge"] == challenge.decode() and query["state"] == pending["state"]

        console.driver.get(f"{aws_like.url}/console?code=abc&state=forged")
        alert = console.wait_for("#status .notice.error", "did not match this tab")
        assert "abc" not in console.driver.current_url, "the code leaves the address bar"
        assert alert.is_displayed()
        console.wait_for("input[name=api-key]")  # still signed out
    finally:
        aws_like.kill()
