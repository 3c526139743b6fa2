"""The log scan itself (tests/log_scan.py) finds what it is meant to find."""

from __future__ import annotations

from tests.log_scan import leaks


def test_the_log_scan_finds_passwords_tokens_and_personal_data_and_passes_the_rest() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl"
    lines = [
        "marketplace.accounts: login failed for ann@example.com",
        f"httpx: GET /feed?token={token}",
        "uvicorn: body {'password': 'correct horse battery'}",
        "marketplace.orders: shipping to 1 Market Street",
        "marketplace.core.errors: unhandled error on POST /checkouts",
    ]
    assert [what for what, _ in leaks(lines)] == [
        "an access token",
        "a test password",
        "a password field",
        "an address line",
    ]
