"""The pure parts of the web pages: card sanitising, redirects after sign-in, compare ranges,
session cookies, and the diff of two hubver.json documents."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hubver.versiondiff import diff_documents
from hubver.web.http import cookie, safe_next
from hubver.web.pages import BadRequest, parse_index, parse_range
from hubver.web.render import format_value, render_card
from hubver.web.session import Sessions


@pytest.mark.parametrize(
    "card",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        '<div style="background:url(x)" onclick="alert(1)">x</div>',
        "<iframe src='https://evil.example'></iframe>",
        "<svg><script>alert(1)</script></svg>",
        '<form action="https://evil.example"><input name="token"></form>',
    ],
)
def test_a_card_cannot_run_script_style_or_leave_the_site(card):
    html = render_card(card, "/ns/m/resolve/main")
    lowered = html.lower()
    for bad in ("<script", "<iframe", "<form", "<input", "style=", '="javascript:', "https://evil.example"):
        assert bad not in lowered, (card, html)
    assert not re.search(r"<[^>]*\son\w+=", lowered), html  # no event handler attribute survives


def test_a_card_keeps_markdown_and_points_relative_images_at_its_revision():
    html = render_card(
        "---\nlicense: mit\ntags: [x]\n---\n# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "![loss](.hubver/charts/loss.svg) ![abs](/ns/m/resolve/v1/x.png) ![far](https://x.example/p.png)",
        "/ns/m/resolve/v3",
    )
    assert "<h1>Title</h1>" in html and "<table>" in html and "license" not in html
    assert 'src="/ns/m/resolve/v3/.hubver/charts/loss.svg"' in html
    assert 'src="/ns/m/resolve/v1/x.png"' in html and "x.example" not in html


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ns/m?sort=-loss", "/ns/m?sort=-loss"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/a\r\nSet-Cookie: x=1", "/"),
        ("/\t/evil.example", "/"),  # browsers drop tabs and newlines: `//evil.example`
        ("/\n/evil.example", "/"),
        ("/ /evil.example", "/"),
        ("/\x00/evil.example", "/"),
        ("/\x7f", "/"),
        ("/ns/m/a\\b", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_only_same_site_paths_are_followed_after_sign_in(target, expected):
    assert safe_next(target) == expected


def test_compare_ranges():
    assert parse_range("v1...v2") == ("v1", "v2")
    for bad in ("v1..v2", "v1", "...v2", "v1...", "v1...v2...v3"):
        with pytest.raises(BadRequest, match=r"A\.\.\.B"):
            parse_range(bad)


def test_session_cookies_are_signed_expire_and_close():
    sessions: Sessions[str] = Sessions(ttl=60)
    value = sessions.open("alice")
    assert sessions.get(value) == "alice"
    sid, stamp, sig = value.split(".")
    assert sessions.get(f"{sid}.{int(stamp) + 999}.{sig}") is None  # a longer life is not signed
    assert sessions.get(f"{sid}.{stamp}.{sig[:-1]}{'0' if sig[-1] != '0' else '1'}") is None
    assert sessions.get(None) is None and sessions.get("garbage") is None
    assert Sessions[str]().get(value) is None  # another server's key
    sessions.close(value)
    assert sessions.get(value) is None
    short: Sessions[str] = Sessions(ttl=-1)
    assert short.get(short.open("bob")) is None
    browser = "b" * 24
    token = sessions.csrf_token(browser)
    assert sessions.check_csrf(browser, token)
    assert not sessions.check_csrf("c" * 24, token) and not sessions.check_csrf(browser, None)
    assert not sessions.check_csrf(None, token)


def test_cookie_flags():
    assert (
        cookie("hubver_session", "v", secure=False) == "hubver_session=v; HttpOnly; SameSite=Strict; Path=/"
    )
    assert cookie("hubver_session", "", secure=True, max_age=0).endswith("; Max-Age=0; Secure")


def test_values_and_index_lines():
    assert [format_value(v) for v in (None, True, 0.123456, 3, "x")] == ["-", "true", "0.1235", "3", "x"]
    raw = b'{"version": "v1"}\nnot json\n{"no": "version"}\n\n{"version": "v2", "message": "a\\u2028b"}\n'
    assert [e["version"] for e in parse_index(raw)] == ["v1", "v2"]


def test_diff_of_two_documents():
    a = {
        "metrics": {"eval_loss": 2.0, "acc": True, "note": "x"},
        "peft": {"r": 4, "lora_alpha": 8},
        "files": [{"path": "w", "sha256": "1", "size": 1}, {"path": "old", "sha256": "2", "size": 2}, "junk"],
        "training": {"hyperparameters": {"lr": 0.1, "epochs": 1}},
        "code": {"commit": "abc"},
    }
    b = {
        "metrics": {"eval_loss": 1.5, "acc": False},
        "peft": {"r": 8, "lora_alpha": 8},
        "files": [{"path": "w", "sha256": "3", "size": 5}, {"path": "new", "sha256": "4", "size": 4}],
        "training": {"hyperparameters": {"lr": 0.1, "epochs": 2}},
        "code": "not an object",
    }
    d = diff_documents(a, b, {"q": 4}, {"q": 8})
    assert d.metrics == {"acc": (True, False, None), "eval_loss": (2.0, 1.5, -0.5), "note": ("x", None, None)}
    assert d.peft == {"r": (4, 8)} and d.hyperparameters == {"epochs": (1, 2)}
    assert d.lora_ranks == {"q": (4, 8)}
    assert [f["path"] for f in d.files_added] == ["new"] and [f["path"] for f in d.files_removed] == ["old"]
    assert d.files_changed == [{"path": "w", "size_a": 1, "size_b": 5}] and d.files_same == []
    assert d.code == {"commit": ("abc", None)}


def test_csrf_and_session_checks_take_any_text():
    # A form or cookie with non-ASCII text is a refusal, not a TypeError (a 500) in compare_digest.
    sessions: Sessions[str] = Sessions()
    assert not sessions.check_csrf("\xff" * 24, "\xff")
    assert not sessions.check_csrf("b" * 24, "\udcff")
    assert sessions.get("a.9999999999.\xff") is None


HUGE = 10**400  # a JSON integer no float holds


def test_huge_or_odd_numbers_are_skipped_not_a_500():
    from hubver.web.pages import loss_chart, metric_names
    from hubver.web.render import format_size, format_time

    assert format_size(HUGE) == "-" and format_size(-1) == "-" and format_size(1500) == "1.5 kB"
    assert format_time(1e300) == "-" and format_time(HUGE) == "-"
    assert metric_names([{"version": "v1", "metrics": {"a": HUGE, "b": 1.0, "c": float("nan")}}]) == ["b"]
    meta = {"training": {"log_history": [{"step": HUGE, "loss": 1.0}, {"step": 2, "loss": HUGE}]}}
    svg = loss_chart(meta, "v1")
    assert svg is not None and svg.count('class="point"') == 1
    d = diff_documents({"metrics": {"m": HUGE}}, {"metrics": {"m": 1.5}}, {}, {})
    assert d.metrics == {"m": (HUGE, 1.5, None)}


def test_a_long_card_is_cut_with_a_link_to_the_whole_file():
    import time

    from hubver.web.render import MAX_CARD

    table = "| a | b |\n|---|---|\n" + "".join(f"| {i} | x |\n" for i in range(400_000))
    t0 = time.perf_counter()
    html = render_card(table, "/ns/m/resolve/main")
    took = time.perf_counter() - t0
    assert html.count("<tr>") < MAX_CARD // 8 and "| 399999 |" not in html
    assert 'class="card-cut"' in html and 'href="/ns/m/resolve/main/README.md"' in html
    assert took < 10, took  # whole: ~40 s of CPU
    assert 'class="card-cut"' not in render_card("# short", "/ns/m/resolve/main")


def test_cards_are_rendered_once_per_commit():
    from hubver.web import pages

    class Cards:  # the one read a card costs, counted
        reads = 0

        def read_file(self, repo_type: str, repo_id: str, commit: str, path: str) -> bytes:
            Cards.reads += 1
            return f"# card at {commit}".encode()

    ref = pages.RepoRef("model", "ns/cached-card")
    source: Any = Cards()
    first = pages.card(source, ref, "c1")
    assert pages.card(source, ref, "c1") == first == "<h1>card at c1</h1>\n" and Cards.reads == 1
    assert pages.card(source, ref, "c2") == "<h1>card at c2</h1>\n" and Cards.reads == 2
    assert pages.card(source, pages.RepoRef("model", "ns/cached-card", "/s/k"), "c1") == first
    assert Cards.reads == 3  # another site root: its own entry (image links carry the root)
