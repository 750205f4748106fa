"""The browser tests' harness: one headless Chromium (Debian's) per session, driven by Playwright.

Playwright cannot download its own browser here, so it launches the system `chromium`
(`.ci/run` installs Debian's package when it is missing). A `Browsing` is one browser
context (its own cookies) with one page that records what would go unnoticed in a real
browser: console errors, uncaught exceptions and dialogs (an XSS `alert()` that fired).
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The contract (docs of issue 15): every HTML response carries exactly these.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HTML_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Browsing:
    """One browser context and its page, with everything the page reported."""

    context: Any
    page: Any
    shots: Path
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    _expected_failures: list[int] = field(default_factory=list)
    _closed: bool = False

    @classmethod
    def open_in(cls, browser: Any, base_url: str, shots: Path, **context_options: Any) -> Browsing:
        context = browser.new_context(
            base_url=base_url, viewport={"width": 1280, "height": 900}, **context_options
        )
        context.set_default_timeout(10_000)
        b = cls(context, context.new_page(), shots)
        b.page.on("console", b._console)
        b.page.on("pageerror", lambda exc: b.errors.append(f"uncaught exception on {b.page.url}: {exc}"))
        b.page.on("dialog", b._dialog)
        return b

    def _console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        text = msg.text
        # A page opened on purpose with an error status logs its own load as a failed resource.
        failed = re.match(r"Failed to load resource: the server responded with a status of (\d+)", text)
        if failed and int(failed.group(1)) in self._expected_failures:
            return
        self.errors.append(f"console error on {self.page.url}: {text}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type} {dialog.message!r} on {self.page.url}")
        dialog.dismiss()

    def expect_failures(self, *statuses: int) -> None:
        """Pages about to be opened with these statuses on purpose: their loads are not errors."""
        self._expected_failures.extend(statuses)

    def open(self, path: str, status: int = 200) -> Any:
        """Go to `path`; check the status and the security headers every HTML page carries."""
        if status != 200:
            self._expected_failures.append(status)
        response = self.page.goto(path)
        assert response is not None, path
        self.check_response(response, status)
        return response

    def check_response(self, response: Any, status: int = 200) -> None:
        assert response.status == status, f"{response.url}: status {response.status}, expected {status}"
        headers = response.headers  # lower-cased names
        assert headers.get("content-type", "").startswith("text/html"), (response.url, headers)
        for name, value in HTML_HEADERS.items():
            assert headers.get(name) == value, f"{response.url}: {name} is {headers.get(name)!r}"

    def submit(self, form: str, status: int = 200, **fields: str) -> Any:
        """Fill `fields` (by input name) in the form matched by `form`, submit it, check the answer."""
        if status != 200:
            self._expected_failures.append(status)
        for name, value in fields.items():
            self.page.fill(f"{form} [name={name!r}]", value)
        with self.page.expect_navigation() as nav:
            self.page.press(f"{form} [name={next(iter(fields))!r}]", "Enter")
        response = nav.value
        assert response is not None, form
        self.check_response(response, status)
        return response

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000, path
        return path

    # -- reading the page --------------------------------------------------------------------

    def texts(self, selector: str) -> list[str]:
        return [t.strip() for t in self.page.locator(selector).all_inner_texts()]

    def attrs(self, selector: str, name: str) -> list[str | None]:
        return [el.get_attribute(name) for el in self.page.locator(selector).all()]

    def path(self) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(self.page.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.context.close()

    def assert_clean(self) -> None:
        assert not self.dialogs, f"dialogs opened (script ran): {self.dialogs}"
        assert not self.errors, "\n".join(self.errors)


NUMBER = re.compile(r"[-+\u2212]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def number(text: str | None) -> float:
    """The first number in a cell's text ('1.25', '-0.5', '\u22120.5 (-25%)', '+0.125')."""
    found = NUMBER.search(text or "")
    assert found, f"no number in {text!r}"
    return float(found.group(0).replace("\u2212", "-"))


def close_to(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6)


# -- what a crafted page must not contain -----------------------------------------------------------

# Run in the page: every element or attribute that would run script or load a frame.
INJECTED_JS = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    if (tag === 'script' && !(el.getAttribute('src') || '').startsWith('/')) found.push('inline script');
    if (['iframe', 'frame', 'object', 'embed', 'base', 'meta'].includes(tag) &&
        !(tag === 'meta' && !el.hasAttribute('http-equiv'))) found.push('<' + tag + '>');
    if (el.id && el.id.startsWith('xss-')) found.push('#' + el.id);
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase(), value = attr.value.replace(/\\s/g, '').toLowerCase();
      if (name.startsWith('on')) found.push(tag + '[' + name + ']');
      if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data'].includes(name) &&
          (value.startsWith('javascript:') || value.startsWith('vbscript:') || value.startsWith('data:text/html')))
        found.push(tag + '[' + name + '=' + attr.value + ']');
    }
  }
  return found;
}"""


@dataclass(frozen=True)
class Crafted:
    """The XSS-crafted repository: what was pushed, to look for as literal text."""

    repo: str
    card_marker: str
    messages: dict[str, str]  # version -> message
    metric: str
    params: dict[str, str]  # version -> the value of its hyperparameter "note"
    file_name: str
    alias: str


CARD = """# Crafted card

{marker}

<script>alert("card script")</script>

<img src="pic.svg" onerror="alert('card img')" id="xss-img"> ![a picture](pic.svg)

[a markdown link](javascript:alert('card markdown link'))

<a href="javascript:alert('card raw link')" id="xss-a">a raw link</a>

<a href="JaVaScRiPt&colon;alert('card entity link')">an entity link</a>

<iframe src="javascript:alert('card iframe')" id="xss-iframe"></iframe>

<svg onload="alert('card svg')"><circle r="1"/></svg>

<div onclick="alert('card div')" id="xss-div">click me</div>

<object data="javascript:alert('card object')"></object>

<form action="/logout" method="post"><button formaction="javascript:alert('card button')">go</button></form>

<base href="javascript:alert('card base')//">
"""


PICTURE = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>\n'


def push_crafted(repo: str, work: Path, adapters: dict[int, Path], *, endpoint: str, token: str) -> Crafted:
    """Two versions whose card, messages, a metric name, a hyperparameter, a file name hold HTML."""
    import hubver

    marker = "CARD-TEXT-" + repo.rsplit("-", 1)[-1]
    template = work / "crafted-card.md.j2"
    work.mkdir(parents=True, exist_ok=True)
    template.write_text(CARD.format(marker=marker), "utf-8")
    metric = "<img src=x onerror=alert('metric')>"
    params = {"v1": "<script>alert('param v1')</script>", "v2": "\"><img src=x onerror=alert('param v2')>"}
    file_name = "<img src=x onerror=alert('file')>.txt"
    messages = {
        "v1": "<img src=x onerror=alert('message v1')> & <b>bold</b>",
        "v2": "</td></tr><script>alert('message v2')</script><tr><td>",
    }
    for i, (version, rank) in enumerate((("v1", 4), ("v2", 8))):
        run = work / f"crafted-{version}"
        shutil.copytree(adapters[rank], run)
        (run / file_name).write_text(f"file {i}\n", "utf-8")
        (run / "pic.svg").write_text(PICTURE, "utf-8")  # the card's images load: no 404 in the console
        hubver.push(
            run,
            repo,
            version=version,
            message=messages[version],
            metrics={metric: 0.5 + i, "eval_loss": 1.0 - i / 4},
            params={"note": params[version], "lora_r": rank},
            template=template,
            endpoint=endpoint,
            token=token,
        )
    alias = "canary/eu+1"
    hubver.promote(repo, "v2", alias, endpoint=endpoint, token=token)
    return Crafted(repo, marker, messages, metric, params, file_name, alias)
