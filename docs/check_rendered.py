"""Open the built site as a reader without internet would, in headless Chromium, and
fail if a formula still shows TeX source or a page holds a ``contents`` directive box.

    python docs/check_rendered.py docs/_build/html [--screenshot batchnorm.html]

Every page whose HTML holds formulas (Sphinx's ``math`` elements) is loaded from disk
with all network access refused; once its scripts have run (MathJax typesets on load),
the text left inside each formula must hold no TeX (``\\(``, ``\\[`` or a ``\\command``).
Furo cannot lay out the ``.. contents::`` directive and shows an error box in its place,
which the ``-W`` build does not see: any page holding its output fails too. A screenshot
of the explainer is saved as ``_artefacts/<page>.png`` inside the site.
"""
import argparse
import html.parser
import re
import shutil
import subprocess
import sys
from pathlib import Path

TEX = re.compile(r"\\[()\[\]]|\\[A-Za-z]+")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
# no DNS and an unroutable proxy: nothing outside the file system can be reached
OFFLINE_FLAGS = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                 "--proxy-bypass-list=<-loopback>"]


def find_chromium():
    """The path of a Chromium-family browser, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium(browser, page, extra):
    command = [browser, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--virtual-time-budget=30000", *OFFLINE_FLAGS, *extra, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def rendered_dom(browser, page):
    """The page's DOM after its scripts ran (MathJax included)."""
    return _chromium(browser, page, ["--dump-dom"]).stdout


def screenshot(browser, page, target):
    """Save a PNG of the rendered page."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _chromium(browser, page, [f"--screenshot={target}", "--window-size=1280,2400",
                              "--run-all-compositor-stages-before-draw"])


class _MathText(html.parser.HTMLParser):
    """Collects the text inside each element whose class list holds ``math``."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0  # nesting inside a math element (0: outside)
        self.formulas = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if self.depth:
            self.depth += 1
        elif "math" in classes:
            self.depth = 1
            self.formulas.append("")

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.formulas[-1] += data


def formulas(dom):
    """The text inside each formula of a page's DOM."""
    parser = _MathText()
    parser.feed(dom)
    return parser.formulas


def untypeset(dom):
    """The formulas of a rendered page that still show TeX source."""
    return [text.strip() for text in formulas(dom) if TEX.search(text)]


def pages_with_math(site):
    """The HTML pages of the site that hold formulas."""
    return sorted(p for p in site.rglob("*.html")
                  if "_static" not in p.parts and 'class="math' in p.read_text("utf-8"))


def contents_boxes(site):
    """The pages holding the output of the ``contents`` directive."""
    return sorted(p for p in site.rglob("*.html")
                  if "_static" not in p.parts and 'class="contents' in p.read_text("utf-8"))


def main(argv=None):
    """Check the site; 0 when every formula is typeset and no page has a contents box."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built HTML directory")
    parser.add_argument("--screenshot", default="batchnorm.html",
                        help="page to photograph into _artefacts/ (default: the explainer)")
    args = parser.parse_args(argv)
    failures = [f"{p.relative_to(args.site)}: a '.. contents::' box (Furo shows an error "
                f"there)" for p in contents_boxes(args.site)]
    browser = find_chromium()
    if browser is None:
        print("check_rendered: no Chromium found (install Debian's 'chromium'): cannot "
              "check that the formulas render offline", file=sys.stderr)
        return 2
    pages = pages_with_math(args.site)
    for page in pages:
        dom = rendered_dom(browser, page)
        count = len(formulas(dom))
        left = untypeset(dom)
        if left or "mjx-container" not in dom:
            failures.append(f"{page.relative_to(args.site)}: {len(left)} of {count} formulas "
                            f"still show TeX, e.g. {left[:3]}")
        else:
            print(f"check_rendered: {page.relative_to(args.site)}: {count} formulas typeset")
    shot = args.site / "_artefacts" / (Path(args.screenshot).stem + ".png")
    screenshot(browser, args.site / args.screenshot, shot)
    print(f"check_rendered: screenshot of {args.screenshot} in {shot}")
    for failure in failures:
        print(f"check_rendered: FAILED {failure}", file=sys.stderr)
    return 1 if failures or not pages else 0


if __name__ == "__main__":
    sys.exit(main())
