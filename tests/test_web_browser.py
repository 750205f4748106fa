"""The hub's web pages in a real browser: headless Chromium (Debian's), driven by Playwright.

The repositories are made with hubver itself against the session hub: a showcase of four
versions of tiny LoRA adapters (metrics, hyperparameters and a loss curve differing per
version, an alias promoted twice), a private one, and one whose card, messages, metric name,
hyperparameter and file name are crafted as XSS. Every page is checked for its content
against what was pushed, for console errors and uncaught exceptions, and screenshotted
(into the session's tmp dir). One browser per session, one context (cookies) per test.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote, urlsplit

import pytest
from browser_support import (
    INJECTED_JS,
    Browsing,
    chromium_path,
    close_to,
    number,
    push_crafted,
)

from hubver.testing.showcase import push_showcase

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(scope="module")
def browser():
    """One Chromium for all the browser tests (they live in this module). Module-scoped, not
    session-scoped: while Playwright's sync API is started, its event loop counts as running in
    this thread, and a later test's asyncio.run() would fail."""
    exe = chromium_path()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium on PATH: .ci/run installs Debian's chromium package")
        pytest.skip("the browser tests need Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=exe, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def browse(browser, hub, shots):
    """browse(**context_options) -> a new `Browsing` (own cookies); each is checked clean at the end."""
    opened: list[Browsing] = []

    def new(**options) -> Browsing:
        b = Browsing.open_in(browser, hub.url, shots, **options)
        opened.append(b)
        return b

    new.opened = opened
    yield new
    for b in opened:
        b.close()
    for b in opened:
        b.assert_clean()


@pytest.fixture(scope="module")
def site(hub, hub_token, tiny_base, adapters, tmp_path_factory):
    """The repositories the pages show, pushed with hubver to the session hub."""
    work = tmp_path_factory.mktemp("web-repos")
    tag = uuid.uuid4().hex[:8]
    conn = {"endpoint": hub.url, "token": hub_token}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)  # not inside a git checkout: nothing of this repo's own code is recorded
        showcase = push_showcase(
            f"web/showcase-{tag}",
            work / "showcase",
            base=tiny_base,
            adapters={(4, 4): adapters[4], (8, 8): adapters[8]},  # the session's, built once
            **conn,
        )
        crafted = push_crafted(f"web/crafted-{tag}", work / "crafted", adapters, **conn)
        import hubver

        private = f"web/private-{tag}"
        hubver.push(adapters[4], private, private=True, message="private run", **conn)
    from huggingface_hub import HfApi

    tags = {t.name: t.target_commit for t in HfApi(**conn).list_repo_refs(showcase.repo).tags}
    return {"showcase": showcase, "crafted": crafted, "private": private, "commits": tags, "tag": tag}


def rows_of(b: Browsing) -> list[str]:
    return [v or "" for v in b.attrs("table#versions tr[data-version]", "data-version")]


# -- the pages, with what was pushed ------------------------------------------------------------


def test_home_page_lists_public_repos_with_their_version_counts_and_searches(browse, site):
    b = browse()
    show = site["showcase"]
    b.open("/")
    listed = b.attrs("table#repos tr[data-repo]", "data-repo")
    assert show.repo in listed and site["crafted"].repo in listed
    assert site["private"] not in listed  # anonymous: public repos only
    row = b.page.locator(f'table#repos tr[data-repo="{show.repo}"]')
    assert number(row.locator("td.versions").inner_text()) == len(show.versions)
    b.shot("home")
    b.submit("form#search", q=f"showcase-{site['tag']}")
    assert b.path().startswith("/?q=")
    assert b.attrs("table#repos tr[data-repo]", "data-repo") == [show.repo]


def test_repo_page_shows_the_card_and_every_version_with_metrics_aliases_and_messages(browse, site):
    b = browse()
    show = site["showcase"]
    b.open(f"/{show.repo}")
    card = b.page.locator("div#card")
    assert card.is_visible()
    card_text = card.inner_text()
    assert "library_name:" not in card_text and "base_model:" not in card_text  # no front matter as text
    latest = show.versions[-1]
    assert latest.message in card_text and card.locator("h1, h2").count() >= 1  # the card, rendered
    broken = b.page.evaluate(
        "[...document.querySelectorAll('#card img')].filter(i => !i.complete || !i.naturalWidth).map(i => i.src)"
    )
    assert not broken, f"card images that do not load: {broken}"
    assert sorted(rows_of(b)) == [v.version for v in show.versions]
    for v in show.versions:
        row = b.page.locator(f'table#versions tr[data-version="{v.version}"]')
        link = row.locator("td.version a")
        assert link.inner_text().strip() == v.version
        assert link.get_attribute("href") == f"/{show.repo}/versions/{v.version}"
        assert row.locator("td.message").inner_text().strip() == v.message
        for metric, value in v.metrics.items():
            assert close_to(number(row.locator(f'td[data-metric="{metric}"]').inner_text()), value)
        assert sorted(t.strip() for t in row.locator("td.aliases span.alias").all_inner_texts()) == (
            show.aliases_of(v.version)
        )
        commit = row.locator("td.commit").inner_text().strip()
        assert len(commit) >= 7 and site["commits"][v.version].startswith(commit)
        assert row.locator("td.date").inner_text().strip()
    assert b.page.locator("a.chart-link").count() >= 2  # one per key metric
    assert b.page.locator(f'a[href="/{show.repo}/aliases"]').count() >= 1
    assert b.page.locator(f'a[href^="/{show.repo}/compare/"]').count() >= 1
    b.shot("repo")


def test_repo_page_sorts_by_a_metric_either_way_and_filters(browse, site):
    b = browse()
    show = site["showcase"]
    by_loss = [v.version for v in sorted(show.versions, key=lambda v: v.metrics["eval_loss"])]
    b.open(f"/{show.repo}?sort=eval_loss")
    assert rows_of(b) == by_loss
    b.open(f"/{show.repo}?sort=-eval_loss")
    assert rows_of(b) == by_loss[::-1]
    # The header's sort links are what a user clicks: following one sorts by that metric.
    header = b.page.locator("table#versions th a.sort", has_text="accuracy").first
    with b.page.expect_navigation():
        header.click()
    order = rows_of(b)
    by_acc = [v.version for v in sorted(show.versions, key=lambda v: v.metrics["accuracy"])]
    assert order in (by_acc, by_acc[::-1]), order
    b.open(f"/{show.repo}")
    b.submit("form#filter", q="overfits")  # a message
    assert rows_of(b) == ["v4"]
    b.submit("form#filter", q="staging")  # an alias
    assert rows_of(b) == ["v2"]
    b.open(f"/{show.repo}?q=nothing-matches-this")
    assert rows_of(b) == []


def test_version_page_has_metadata_lora_ranks_load_code_provenance_neighbours_and_loss_curve(browse, site):
    b = browse()
    show = site["showcase"]
    v2 = show.version("v2")
    b.open(f"/{show.repo}/versions/v2")
    assert v2.message in b.page.locator("section#metadata").inner_text()
    # module -> rank: the rank is each row's last cell
    ranks = {
        number(row.locator("td").last.inner_text()) for row in b.page.locator("table#lora tr:has(td)").all()
    }
    assert ranks == {v2.rank}, b.texts("table#lora tr")
    code = b.page.locator("pre#load-code").inner_text()
    assert show.repo in code and 'revision="v2"' in code and "hubver.load" in code
    assert b.page.locator("section#provenance").is_visible()
    assert b.page.locator("a#prev").get_attribute("href") == f"/{show.repo}/versions/v1"
    assert b.page.locator("a#next").get_attribute("href") == f"/{show.repo}/versions/v3"
    curve = [float(x or "nan") for x in b.attrs("svg.loss circle.point", "data-value")]
    assert len(curve) == len(v2.losses) and all(close_to(a, e) for a, e in zip(curve, v2.losses, strict=True))
    for metric, value in v2.metrics.items():
        cell = b.page.locator(f'table#metrics [data-metric="{metric}"]').first
        assert close_to(number(cell.inner_text().replace(metric, " ")), value)
    b.shot("version")
    with b.page.expect_navigation():
        b.page.click("a#next")
    assert b.path() == f"/{show.repo}/versions/v3"
    b.open(f"/{show.repo}/versions/v1")
    assert b.page.locator("a#prev").count() == 0 and b.page.locator("a#next").count() == 1
    b.open(f"/{show.repo}/versions/v4")
    assert b.page.locator("a#next").count() == 0 and b.page.locator("a#prev").count() == 1
    b.open(f"/{show.repo}/versions/v99", status=404)


def test_metric_chart_has_one_point_per_version_and_a_marker_per_promotion(browse, site):
    b = browse()
    show = site["showcase"]
    b.open(f"/{show.repo}/chart?metric=eval_loss")
    points = b.page.locator("svg.metric circle.point")
    assert b.attrs("svg.metric circle.point", "data-key") == [v.version for v in show.versions]
    values = [float(x or "nan") for x in b.attrs("svg.metric circle.point", "data-value")]
    assert all(close_to(a, v.metrics["eval_loss"]) for a, v in zip(values, show.versions, strict=True))
    assert points.first.locator("title").text_content()  # a label for each point
    markers = sorted(
        (m.get_attribute("data-alias"), m.get_attribute("data-version"))
        for m in b.page.locator("svg.metric g.marker").all()
    )
    assert markers == sorted(show.promotions)
    assert b.page.locator("a[href*='metric=accuracy'], option[value='accuracy']").count() >= 1
    b.shot("chart")
    b.open(f"/{show.repo}/chart?metric=no_such_metric", status=404)
    assert "eval_loss" in b.page.inner_text("body") and "accuracy" in b.page.inner_text("body")


def test_compare_page_says_what_hubver_diff_says(browse, site):
    b = browse()
    show = site["showcase"]
    a, c = show.version("v1"), show.version("v2")
    b.open(f"/{show.repo}/compare/v1...v2")
    for metric in a.metrics:
        row = b.page.locator(f'table#metrics tr[data-metric="{metric}"]')
        assert close_to(number(row.locator("td.a").inner_text()), a.metrics[metric])
        assert close_to(number(row.locator("td.b").inner_text()), c.metrics[metric])
        assert close_to(number(row.locator("td.delta").inner_text()), c.metrics[metric] - a.metrics[metric])
    hp = b.page.locator('table#hyperparameters tr[data-key="lora_r"]')
    assert (number(hp.locator("td.a").inner_text()), number(hp.locator("td.b").inner_text())) == (4, 8)
    lora = b.page.locator("table#lora")
    assert {number(t) for t in lora.locator("td.a").all_inner_texts()} == {a.rank}
    assert {number(t) for t in lora.locator("td.b").all_inner_texts()} == {c.rank}
    assert "weights" in lora.locator("xpath=..").inner_text().lower()  # says where the ranks come from
    assert b.page.locator("table#peft").count() == 1
    changes = {
        el.get_attribute("data-path"): el.get_attribute("data-change")
        for el in b.page.locator("table#files tr[data-path]").all()
    }
    assert changes["notes.txt"] == "added"
    assert changes["adapter_model.safetensors"] == "changed"
    assert changes["adapter_config.json"] == "changed"  # r differs
    assert b.page.locator("section#code").count() == 1
    b.shot("compare")
    b.open(f"/{show.repo}/compare/v2...v3")
    row = b.page.locator('table#metrics tr[data-metric="eval_loss"]')
    assert close_to(number(row.locator("td.delta").inner_text()), -0.25)
    b.open(f"/{show.repo}/compare/v1...v99", status=404)
    assert "v99" in b.page.inner_text("body")
    b.expect_failures(400, 404)
    r = b.page.goto(f"/{show.repo}/compare/v1..v2")
    assert r is not None and r.status in (400, 404), r and r.status
    assert "v1...v2" in b.page.inner_text("body") or "A...B" in b.page.inner_text("body")


def test_files_commits_and_alias_timeline(browse, site):
    b = browse()
    show = site["showcase"]
    b.open(f"/{show.repo}/tree/v2")
    files = {el.get_attribute("data-path"): el for el in b.page.locator("table#files tr[data-path]").all()}
    assert {"adapter_model.safetensors", "adapter_config.json", "notes.txt", "hubver.json"} <= set(files)
    assert files["adapter_model.safetensors"].locator("span.lfs").count() == 1
    assert files["notes.txt"].locator("span.lfs").count() == 0
    assert number(files["notes.txt"].locator("td.size").inner_text()) > 0
    download = files["notes.txt"].locator("a.download").get_attribute("href")
    assert download == f"/{show.repo}/resolve/v2/notes.txt"
    assert b.page.request.get(download).text() == show.version("v2").extra_files["notes.txt"]
    assert b.page.locator("a#version-link").get_attribute("href") == f"/{show.repo}/versions/v2"
    b.shot("tree")
    b.open(f"/{show.repo}/tree/main")
    assert b.page.locator("a#version-link").count() == 0
    b.open(f"/{show.repo}/commits/main")
    listed = b.attrs("ol#commits li[data-commit]", "data-commit")
    assert set(site["commits"].values()) <= set(listed)
    v3 = b.page.locator(f'ol#commits li[data-commit="{site["commits"]["v3"]}"]')
    assert "v3" in v3.inner_text()
    b.open(f"/{show.repo}/aliases")
    timeline = [
        (li.get_attribute("data-alias"), li.get_attribute("data-from") or None, li.get_attribute("data-to"))
        for li in b.page.locator("ol#timeline li[data-alias]").all()
    ]
    previous: dict[str, str] = {}
    expected = []
    for alias, version in show.promotions:
        expected.append((alias, previous.get(alias), version))
        previous[alias] = version
    # Newest first. Promotions made within the same second tie on their time: each alias's own
    # history must still read newest first, whatever the interleaving of different aliases.
    assert sorted(timeline, key=str) == sorted(expected, key=str)
    for alias in {a for a, _ in show.promotions}:
        assert [e for e in timeline if e[0] == alias] == [e for e in expected if e[0] == alias][::-1]
    b.shot("aliases")


# -- sign-in ---------------------------------------------------------------------------------------


def test_private_repo_is_a_404_until_sign_in_through_the_form(browse, site, hub_token):
    b = browse()
    private = site["private"]
    b.open(f"/{private}", status=404)
    # The same page as for a repo that does not exist: nothing tells that this one does.
    hidden = b.page.inner_text("body").replace(private, "NAME")
    b.open(f"/web/missing-{site['tag']}", status=404)
    assert b.page.inner_text("body").replace(f"web/missing-{site['tag']}", "NAME") == hidden
    b.open(f"/{private}/versions/v1", status=404)
    b.open("/")
    assert b.page.locator("a#login").count() == 1 and b.page.locator("span#user").count() == 0
    b.open(f"/login?next=/{private}")
    token = b.page.locator("form#login input[name=token]")
    assert token.get_attribute("type") == "password"
    assert b.page.locator("form#login input[name=csrf]").get_attribute("type") == "hidden"
    assert b.page.locator("form#login input[name=csrf]").get_attribute("value")
    b.submit("form#login", status=401, token="hv_wrong_" + "0" * 24)
    assert b.page.locator("p.error").is_visible()
    assert "hv_wrong_" not in b.page.content()
    b.submit("form#login", token=hub_token)
    assert b.path() == f"/{private}"  # back where the sign-in was asked for
    assert rows_of(b) == ["v1"]
    assert b.page.locator("span#user").is_visible()
    assert hub_token not in b.page.url and hub_token not in b.page.content()
    cookie = next(c for c in b.context.cookies() if c["name"] == "hubver_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert hub_token not in cookie["value"]
    assert "hubver_session" not in b.page.evaluate("document.cookie")
    b.open(f"/{private}/versions/v1")
    assert "no loss recorded" in b.page.inner_text("body").lower()
    b.open("/")
    assert private in b.attrs("table#repos tr[data-repo]", "data-repo")
    b.shot("signed-in")
    # Another context (another browser profile, no cookie) still sees nothing.
    other = browse()
    other.open(f"/{private}", status=404)
    # Signing out ends it.
    with b.page.expect_navigation():
        b.page.locator("form[action='/logout'] button, form[action='/logout'] [type=submit]").first.click()
    assert not [c for c in b.context.cookies() if c["name"] == "hubver_session"]
    b.open(f"/{private}", status=404)


def test_login_redirects_only_to_same_site_paths(browse, hub, hub_token):
    b = browse()
    for target in ("https://example.com/", "//example.com/x", "/\\example.com", "javascript:alert(1)"):
        b.open(f"/login?next={quote(target, safe='')}")
        b.submit("form#login", token=hub_token)
        assert urlsplit(b.page.url).netloc == urlsplit(hub.url).netloc, (target, b.page.url)
        b.context.clear_cookies()


# -- crafted inputs --------------------------------------------------------------------------------


def _inert(b: Browsing) -> None:
    found = b.page.evaluate(INJECTED_JS)
    assert not found, f"{b.page.url}: injected {found}"
    assert not b.dialogs, b.dialogs


def test_crafted_card_metadata_and_file_names_render_as_text(browse, site):
    """Checked with the CSP bypassed too: escaping and sanitising alone must make them inert."""
    x = site["crafted"]
    for options in ({"bypass_csp": True}, {}):
        b = browse(**options)
        b.open(f"/{x.repo}")
        _inert(b)
        card = b.page.locator("div#card")
        assert x.card_marker in card.inner_text()
        assert b.page.locator("div#card a", has_text="a raw link").count() <= 1
        # Relative images in a card point into the repo (as on huggingface.co), nowhere else.
        srcs = b.attrs("div#card img", "src")
        assert srcs and all((src or "").startswith(f"/{x.repo}/resolve/") for src in srcs), srcs
        for version, message in x.messages.items():
            row = b.page.locator(f'table#versions tr[data-version="{version}"]')
            assert row.locator("td.message").inner_text().strip() == message
        assert sorted(rows_of(b)) == ["v1", "v2"]  # the crafted message closed no row
        headers = b.page.locator("table#versions th").all_inner_texts()
        assert any(x.metric in h for h in headers), headers
        assert x.alias in b.texts("table#versions span.alias")
        if options:
            b.shot("crafted-repo")
        b.open(f"/{x.repo}/versions/v2")
        _inert(b)
        assert x.messages["v2"] in b.page.locator("section#metadata").inner_text()
        assert x.metric in b.page.locator("table#metrics").inner_text()
        b.open(f"/{x.repo}/compare/v1...v2")
        _inert(b)
        assert x.metric in b.page.locator("table#metrics").inner_text()
        hyperparameters = b.page.locator("table#hyperparameters").inner_text()
        assert all(p in hyperparameters for p in x.params.values()), hyperparameters
        assert x.file_name in b.page.locator("table#files").inner_text()
        b.open(f"/{x.repo}/tree/v2")
        _inert(b)
        row = next(
            r
            for r in b.page.locator("table#files tr[data-path]").all()
            if r.get_attribute("data-path") == x.file_name
        )
        assert x.file_name in row.inner_text()
        href = row.locator("a.download").get_attribute("href")
        assert href == f"/{x.repo}/resolve/v2/{quote(x.file_name)}"
        assert b.page.request.get(href).text() == "file 1\n"
        b.open(f"/{x.repo}/chart?metric={quote(x.metric, safe='')}")
        _inert(b)
        assert b.attrs("svg.metric circle.point", "data-key") == ["v1", "v2"]
        markers = [
            (m.get_attribute("data-alias"), m.get_attribute("data-version"))
            for m in b.page.locator("svg.metric g.marker").all()
        ]
        assert markers == [(x.alias, "v2")]
        b.open(f"/{x.repo}/aliases")
        _inert(b)
        assert b.attrs("ol#timeline li[data-alias]", "data-alias") == [x.alias]
        b.open(f"/{x.repo}/commits/main")
        _inert(b)
        b.open("/?q=" + quote("<script>alert('search')</script>"))
        _inert(b)
        assert "<script>alert('search')</script>" in b.page.locator("form#search input[name=q]").input_value()


# -- hubver ui -------------------------------------------------------------------------------------


def test_hubver_ui_opens_the_repo_in_the_browser_through_its_key(browse, hub, hub_token, site):
    """The printed URL's path carries the key (no cookie: a cookie for 127.0.0.1 would reach every
    port); every link stays under it; the pages come through the Hub API; nobody else gets in."""
    import subprocess
    import sys

    show = site["showcase"]
    argv = [sys.executable, "-m", "hubver", "ui", "--repo", show.repo, "--endpoint", hub.url]
    proc = subprocess.Popen(
        [*argv, "--token", hub_token, "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "/s/" in url, (url, proc.poll())
        assert hub_token not in url
        base, _, rest = url.partition("/s/")
        root = "/s/" + rest.split("/", 1)[0]
        stranger = browse()
        stranger.expect_failures(403)
        refused = stranger.page.goto(base + f"/{show.repo}")
        assert refused is not None and refused.status == 403
        b = browse()
        b.page.goto(url)
        assert b.path() == f"{root}/{show.repo}"
        assert sorted(rows_of(b)) == [v.version for v in show.versions]
        for v in show.versions:
            row = b.page.locator(f'table#versions tr[data-version="{v.version}"]')
            assert close_to(
                number(row.locator('td[data-metric="eval_loss"]').inner_text()), v.metrics["eval_loss"]
            )
        assert not b.context.cookies()
        b.page.locator("a.chart-link").first.click()  # links stay under the key
        assert b.path().startswith(f"{root}/{show.repo}/chart?metric=")
        b.page.goto(base + f"{root}/{show.repo}/chart?metric=accuracy")
        assert b.attrs("svg.metric circle.point", "data-key") == [v.version for v in show.versions]
        b.page.goto(base + f"{root}/{site['private']}")  # the token's owner (the admin) reads private repos
        assert rows_of(b) == ["v1"]
        assert hub_token not in b.page.content()
        b.shot("ui")
        # Another key, or none: nothing.
        late = browse()
        late.expect_failures(403)
        again = late.page.goto(base + "/s/" + "A" * 43 + f"/{show.repo}")
        assert again is not None and again.status == 403
        assert not late.context.cookies()
    finally:
        for opened in browse.opened:
            opened.close()  # before the server goes: nothing in flight to be cut off
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_the_pages_work_without_javascript(browse, site, hub_token):
    """hubver.js is progressive only: sorting, filtering, the chart and sign-in need none of it."""
    b = browse(java_script_enabled=False)
    show = site["showcase"]
    b.open(f"/{show.repo}")
    b.submit("form#filter", q="rank 8")
    assert rows_of(b) == ["v2"]
    b.open(f"/{show.repo}")
    with b.page.expect_navigation():
        b.page.locator("table#versions th a.sort", has_text="eval_loss").first.click()
    order = rows_of(b)
    by_loss = [v.version for v in sorted(show.versions, key=lambda v: v.metrics["eval_loss"])]
    assert order in (by_loss, by_loss[::-1]), order
    b.open(f"/{show.repo}/chart?metric=eval_loss")
    assert b.attrs("svg.metric circle.point", "data-key") == [v.version for v in show.versions]
    b.open(f"/login?next=/{site['private']}")
    b.submit("form#login", token=hub_token)
    assert b.path() == f"/{site['private']}" and rows_of(b) == ["v1"]
