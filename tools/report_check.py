"""``make report-check``: render a passing and a failing HTML report and check them in headless Chromium.

The reports are built from the synthetic reports of ``tests/reporting/synthetic.py`` (validated
against ``report.schema.json`` first), rendered by ``html_page.render_html``, and opened in
headless Chromium (Debian package ``chromium``) twice:

- an instrumented copy (a probe script injected first in ``<head>``) whose DOM Chromium dumps: the
  probe records resource load errors, uncaught errors and console errors/warnings, checks that
  every image decoded (``naturalWidth > 0``), clicks every copy button and checks its handler ran;
- the page itself, for screenshots (``reports/screenshots/{passing,failing}.png``, full page, and
  ``*-top.png``, the first screen), with Chromium's console log on stderr: any console message of
  the page fails the check.

It also fails if the page refers to anything outside itself (an ``http(s)://`` or ``file:`` URL,
an image that is not a ``data:`` URI). Exit status 0 when both pages are clean, 1 otherwise, 2 when
Chromium or matplotlib is missing.

    python tools/report_check.py [--out reports] [--chromium PATH]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.reporting.synthetic

_PROBE = """<script>
(function () {
  var found = {errors: [], images: [], copies: []};
  function note(kind, text) { found.errors.push(kind + ': ' + text); }
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) note('resource failed to load', t.src || t.href);
    else note('uncaught error', e.message);
  }, true);
  window.addEventListener('unhandledrejection', function (e) { note('unhandled rejection', String(e.reason)); });
  ['error', 'warn'].forEach(function (level) {
    var original = console[level];
    console[level] = function () {
      note('console.' + level, Array.prototype.join.call(arguments, ' '));
      original.apply(console, arguments);
    };
  });
  window.addEventListener('load', function () {
    document.querySelectorAll('img').forEach(function (img) {
      found.images.push({alt: img.alt, ok: img.complete && img.naturalWidth > 0, width: img.naturalWidth});
    });
    document.querySelectorAll('button.copy').forEach(function (b) { b.click(); });
    setTimeout(function () {
      document.querySelectorAll('button.copy').forEach(function (b) { found.copies.push(b.textContent); });
      found.height = document.documentElement.scrollHeight;
      document.documentElement.setAttribute('data-report-check', JSON.stringify(found));
    }, 300);
  });
})();
</script>"""

_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]\s*(.*)")


class _Refs(HTMLParser):
    """Every URL-bearing attribute of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append((tag, name, value))


def _chromium(binary: str, profile: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _console(stderr: str) -> list[str]:
    return [m.group(1) for line in stderr.splitlines() if (m := _CONSOLE.search(line))]


def check_page(page: Path, shots: Path, binary: str) -> list[str]:
    """Problems found in one rendered report (empty when clean); writes its screenshots."""
    problems: list[str] = []
    text = page.read_text(encoding="utf-8")
    refs = _Refs()
    refs.feed(text)
    for tag, attr, value in refs.refs:
        if tag == "img" and not value.startswith("data:image/png;base64,"):
            problems.append(f"image not embedded: {value[:80]}")
        if re.match(r"(https?:|file:|//)", value):
            problems.append(f"reference outside the page: <{tag} {attr}={value[:80]}>")
    if not refs.refs or not any(tag == "img" for tag, _, _ in refs.refs):
        problems.append("the page has no images (plots missing)")
    with tempfile.TemporaryDirectory(prefix="report-check-") as tmp:
        probe = Path(tmp) / page.name
        probe.write_text(text.replace("<head>", "<head>" + _PROBE, 1), encoding="utf-8")
        dom = _chromium(binary, Path(tmp) / "profile-dom", "--dump-dom", probe.as_uri())
        m = re.search(r"data-report-check=\"([^\"]*)\"", dom.stdout)
        if not m:
            return [*problems, f"Chromium did not finish the page (exit {dom.returncode}): {dom.stderr[-500:]}"]
        found = json.loads(html.unescape(m.group(1)))
        problems += found["errors"]
        problems += [f"image failed to load: {img['alt']}" for img in found["images"] if not img["ok"]]
        problems += [f"copy button did not respond (reads {c!r})" for c in found["copies"] if c == "Copy"]
        problems += [f"console (instrumented page): {c}" for c in _console(dom.stderr)]
        height = min(max(int(found.get("height", 1000)), 800), 16000)
        for name, size in ((page.stem, f"1280,{height}"), (f"{page.stem}-top", "1280,1000")):
            shot = _chromium(
                binary,
                Path(tmp) / f"profile-{name}",
                f"--screenshot={shots / (name + '.png')}",
                f"--window-size={size}",
                page.as_uri(),
            )
            problems += [f"console: {c}" for c in _console(shot.stderr)]
            if not (shots / f"{name}.png").exists():
                problems.append(f"no screenshot {name}.png (exit {shot.returncode}): {shot.stderr[-300:]}")
        print(
            f"report-check: {page.name}: {len(found['images'])} images decoded "
            f"({sum(i['ok'] for i in found['images'])} ok), {len(found['copies'])} copy button(s), "
            f"page height {found.get('height')} px"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    """Render, open, screenshot; 0 when both pages are clean."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "reports"), help="folder for the pages and screenshots/")
    parser.add_argument(
        "--chromium",
        default=shutil.which("chromium") or shutil.which("chromium-browser") or "",
        help="the Chromium binary (default: chromium on PATH)",
    )
    args = parser.parse_args(argv)
    if not args.chromium:
        print("report-check: Chromium not found: apt-get install chromium (or pass --chromium PATH)", file=sys.stderr)
        return 2
    from adagrad.conformance.reporting.html_page import render_html, require_matplotlib
    from adagrad.conformance.reporting.summary import validate, verdict
    from tests.reporting.synthetic import failing_report, passing_report

    try:
        require_matplotlib()
    except ImportError as exc:
        print(f"report-check: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    shots = out / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    failures = 0
    for name, report, expected in (
        ("passing", passing_report(), "conformant"),
        ("failing", failing_report(), "non-conformant"),
    ):
        validate(report)
        if verdict(report)[0] != expected:
            print(
                f"report-check: the {name} report's verdict is {verdict(report)[0]}, expected {expected}",
                file=sys.stderr,
            )
            failures += 1
        page = out / f"{name}.html"
        page.write_text(render_html(report), encoding="utf-8")
        problems = check_page(page, shots, args.chromium)
        for p in problems:
            print(f"report-check: {page}: {p}", file=sys.stderr)
        failures += bool(problems)
    print(f"report-check: screenshots in {shots}" + ("" if not failures else f"; {failures} page(s) with problems"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
