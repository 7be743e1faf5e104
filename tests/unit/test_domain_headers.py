"""The domain's rules for app headers and URLs (issue 13: the delivery's protocol headers are ours)."""

from __future__ import annotations

import pytest

from chalicelib.domain.headers import (
    check_app_url,
    check_header_set,
    header_bytes,
    header_problem,
    is_masked_form,
    is_reserved,
    mask_url_query,
)

RESERVED = [
    "Host",
    "content-length",
    "Content-Type",
    "Content-Encoding",
    "Transfer-Encoding",
    "Connection",
    "Keep-Alive",
    "TE",
    "Trailer",
    "Upgrade",
    "Expect",
    "User-Agent",
    "Proxy-Authorization",
    "proxy-connection",
    "Webhook-Id",
    "webhook-signature",
    "Scheduler-Attempt",
    "scheduler-anything",
]


@pytest.mark.parametrize("name", RESERVED)
def test_reserved_names_are_refused_naming_the_header(name: str) -> None:
    assert is_reserved(name)
    with pytest.raises(ValueError, match=f"header '{name}' is reserved"):
        check_header_set({"X-Fine": "1", name: "v"})


@pytest.mark.parametrize("name", ["Authorization", "X-Api-Key", "Accept", "Accept-Encoding", "X-Webhook-Id"])
def test_ordinary_names_pass(name: str) -> None:
    assert header_problem(name, "value with spaces\tand a tab, ünïcödé") is None


@pytest.mark.parametrize("name", ["a b", "X:Y", "", "X\r\nY", "Ä", "x" * 101, "(x)"])
def test_names_must_be_tokens(name: str) -> None:
    problem = header_problem(name, "v")
    assert problem is not None and "not a valid HTTP token" in problem


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nb", "a\rb", "nul\x00", "bell\x07", "del\x7f", "esc\x1b[0m"])
def test_values_with_control_characters_are_refused(value: str) -> None:
    problem = header_problem("X-Token", value)
    assert problem is not None and "control character" in problem and "X-Token" in problem


def test_names_differing_only_in_case_are_one_header() -> None:
    with pytest.raises(ValueError, match="given twice"):
        check_header_set({"X-A": "1", "x-a": "2"})


def test_header_bytes_count_names_and_values_in_utf8() -> None:
    assert header_bytes({"Ab": "cd", "E": "é"}) == 2 + 2 + 1 + 2


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pass@example.com/x?token=1",
        "https://user@example.com/",
        "https://:pass@example.com/",
        "https://a@b@example.com/",
    ],
)
def test_urls_with_userinfo_are_refused_with_a_hint(url: str) -> None:
    with pytest.raises(ValueError, match="put credentials in a header"):
        check_app_url(url)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "/relative", "https://exa mple.com/", "https://x.com/\x00", "http://x:99999/"]
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="url"):
        check_app_url(url)


@pytest.mark.parametrize("url", ["https://example.com/hook?token=abc", "http://127.0.0.1:8080/x", "http://[::1]/x"])
def test_good_urls_pass(url: str) -> None:
    assert check_app_url(url) == url


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("https://example.com/hook", "https://example.com/hook"),
        ("https://example.com/hook?token=s3cret", "https://example.com/hook?token=***"),
        ("https://example.com/h?a=1&b=&token=s3%20c&c=x=y", "https://example.com/h?a=***&b=&token=***&c=***"),
        ("https://example.com/h?s3cret", "https://example.com/h?***"),
        ("https://example.com/h?t=s3cret#part", "https://example.com/h?t=***#part"),
        ("https://example.com/h?", "https://example.com/h?"),
        ("https://example.com/h?&&t=v", "https://example.com/h?&&t=***"),
    ],
)
def test_url_query_values_are_masked_and_nothing_else_changes(stored: str, shown: str) -> None:
    assert mask_url_query(stored) == shown
    assert "s3cret" not in mask_url_query(stored)


def test_only_the_masked_form_of_the_stored_url_means_unchanged() -> None:
    stored = "https://example.com/h?token=s3cret"
    assert is_masked_form("https://example.com/h?token=***", stored)
    assert not is_masked_form(stored, stored)  # the real URL sent again is a (no-op) change, not a mask
    assert not is_masked_form("https://example.com/other?token=***", stored)
    assert not is_masked_form("https://example.com/h", "https://example.com/h")
