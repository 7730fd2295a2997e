"""The HTML report as a person sees it: Debian's Chromium, headless, driven through Playwright, renders the
report of the traps fleet (real reviews, plus waived, out-of-scope, not-applicable and unreachable hosts) at
1400 and at 420 pixels wide. Screenshots go to the test's folder and to /tmp/report-screenshots/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from ansible_collections.mfa_server.tls.plugins.module_utils import reports

CHROMIUM = "/usr/bin/chromium"
# As the machine's notes say: no sandbox as root, no GPU, and nothing Chromium would fetch on its own.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDE, NARROW = {"width": 1400, "height": 900}, {"width": 420, "height": 900}


@pytest.fixture
def page(tmp_path):
    """A page of a fresh Chromium profile; never a browser Playwright would download."""
    # Not a skip: a report nobody looked at in a browser is what this test exists to prevent.
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True, viewport=WIDE
        )
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()


def _overflow(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")


def _shoot(page, tmp_path: Path, keep, name: str) -> None:
    """The whole page, and what a person sees first (the top of the page, one screen)."""
    page.evaluate("window.scrollTo(0, 0)")
    for shot, full in ((name, True), (f"top-{name}", False)):
        page.screenshot(path=str(tmp_path / shot), full_page=full)
        keep(tmp_path / shot, shot)


def test_the_report_reads_at_1400_and_at_420_pixels(page, fleet_report, tmp_path, keep):
    paths, summary = fleet_report.paths, fleet_report.summary
    keep(Path(paths["html"]), "mfa-tls-compliance.html")
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(Path(paths["html"]).as_uri())
    assert requested == [Path(paths["html"]).as_uri()], "the page loads nothing else (no script, font, image)"

    title = page.title()
    assert title.startswith("TLS compliance of the MFA servers: not compliant · scope mfa · "), title

    # The per-host summary comes first, then the endpoints.
    sections = page.eval_on_selector_all("main > section", "nodes => nodes.map(n => n.id)")
    assert sections == ["hosts", "endpoints"]
    host_rows = page.locator("table.hosts tbody tr")
    assert host_rows.count() == summary["hosts"] == 6
    statuses = page.eval_on_selector_all(
        "table.hosts tbody tr td:nth-child(2)", "cells => cells.map(c => c.innerText)"
    )
    assert statuses[0] == "UNREACHABLE" and "not applicable" in statuses

    # Failures first, ordered: every card's status is no better than the next one's.
    cards = page.eval_on_selector_all("article.card", "cards => cards.map(c => c.dataset.status)")
    assert cards[0] in reports.FAILED and cards[1] == reports.FAILING
    ranks = [reports.STATUS_ORDER.index(status) for status in cards]
    assert ranks == sorted(ranks), cards
    assert {"waived", "out of scope", "not applicable", "warning"} <= set(cards)

    # The first endpoint card with something to fix shows why and the fix, wide enough to read.
    failing = page.locator('article.card[data-status="failing"]').first
    fix = failing.locator("ol.fix")
    assert fix.is_visible() and fix.bounding_box()["width"] > 200, fix.bounding_box()
    assert failing.locator("ul.why li").count() >= 1 and failing.locator("h3").inner_text().startswith(
        "https://"
    )
    assert page.locator("article.card", has_text="waived until").first.is_visible()
    assert page.get_by_text(fleet_report.waiver_reason).first.is_visible()
    assert page.get_by_text(fleet_report.expired_reason).first.is_visible()

    # The chain as sent is collapsed until asked for.
    details = failing.locator("details")
    chain = details.locator("ol.chain")
    assert details.get_attribute("open") is None and not chain.is_visible()
    details.locator("summary").click()
    assert details.get_attribute("open") is not None and chain.is_visible()
    assert chain.locator("li").count() >= 1 and "SHA-1" in chain.inner_text()
    details.locator("summary").click()
    assert not chain.is_visible()

    scroll, client = _overflow(page)
    assert scroll <= client, f"horizontal scrolling at 1400 px: {scroll} > {client}"
    _shoot(page, tmp_path, keep, "report-1400.png")

    page.set_viewport_size(NARROW)
    scroll, client = _overflow(page)
    assert scroll <= client, f"horizontal scrolling at 420 px: {scroll} > {client}"
    # Cards: each host row is a card of its own, and an endpoint's facts stack above why and fix.
    assert host_rows.first.evaluate("row => getComputedStyle(row).display") == "flex"
    assert page.locator("table.hosts thead").bounding_box()["height"] <= 1
    columns = failing.locator(".body").evaluate("body => getComputedStyle(body).gridTemplateColumns")
    assert len(columns.split()) == 1, columns
    assert fix.is_visible() and fix.bounding_box()["width"] > 300
    _shoot(page, tmp_path, keep, "report-420.png")
