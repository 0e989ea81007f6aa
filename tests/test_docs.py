"""The README and docs/: every relative link and anchor resolves, the first screen holds the two
commands, the screenshot is there and shown, and every document is reachable from the README."""

import pathlib
import re
import shlex

import pytest
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
SCREENSHOT = ROOT / "docs" / "screenshot.png"
FIRST_SCREEN = 40  # lines
MAX_README_LINES = 150

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
COMMENT = re.compile(r"<!--.*?-->", re.S)
INLINE_CODE = re.compile(r"(`+).+?\1", re.S)
# [text](target "title"), ![alt](target), and reference definitions "[name]: target"
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.I)


def rendered(text: str) -> str:
    """The Markdown a reader sees: no fenced code, no HTML comments."""
    return COMMENT.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"(?<!\w)_|_(?!\w)", "", text)  # emphasis underscores, not those inside words
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: pathlib.Path) -> set[str]:
    """Every anchor a Markdown file has on GitHub: its headings (repeats numbered -1, -2) and <a id>."""
    text = rendered(path.read_text())
    found, seen = set(), {}
    for match in HEADING.finditer(text):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    found.update(HTML_ANCHOR.findall(text))
    return found


def links(path: pathlib.Path) -> list[str]:
    """Every link target a reader can follow in a Markdown file (not those in code or comments)."""
    text = INLINE_CODE.sub("", rendered(path.read_text()))
    return INLINE_LINK.findall(text) + REFERENCE.findall(text)


def relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("//")


def broken_links(path: pathlib.Path) -> list[str]:
    """The relative links of a Markdown file whose file or anchor does not exist, with why."""
    problems = []
    for target in links(path):
        if not relative(target):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            problems.append(f"{target}: no file {destination.relative_to(ROOT) if destination.is_relative_to(ROOT) else destination}")
        elif anchor and (destination.suffix != ".md" or anchor not in anchors(destination)):
            problems.append(f"{target}: no heading #{anchor} in {destination.name}")
    return problems


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(path):
    assert links(path) or path != README
    assert broken_links(path) == []


def test_a_broken_link_or_anchor_is_found(tmp_path):
    """The checker itself: a missing file, a missing heading and a heading slug with markup."""
    (tmp_path / "other.md").write_text("# Other\n\n## The `--get` option, in *short*\n\n## Twice\n\n## Twice\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## Local one\n\n"
        "[ok](other.md) [ok](other.md#the---get-option-in-short) [ok](other.md#twice-1) [ok](#local-one)\n"
        "[bad](missing.md) [bad](other.md#nowhere) [bad](#twice) ![bad](pic.png)\n"
        "[outside](https://example.org/x.md) `[code](nothing.md)`\n"
        "```\n[fenced](nothing.md)\n```\n<!-- [comment](nothing.md) -->\n"
    )
    problems = broken_links(page)
    assert [problem.split(":")[0] for problem in problems] == ["missing.md", "other.md#nowhere", "#twice", "pic.png"]


def test_the_first_screen_holds_the_two_commands():
    """The install-and-demo line and, byte for byte, the test line that .ci/run runs."""
    first_screen = README.read_text().splitlines()[:FIRST_SCREEN]
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = shlex.split(re.search(r"^command=(.*)$", ci, re.M).group(1))[0]
    assert test_command in first_screen
    assert any("pip install -e ." in line and line.rstrip().endswith("python plotserve.py") for line in first_screen)


def test_the_readme_is_short_and_leads_to_every_document():
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(README) if relative(target)}
    assert [path.name for path in DOCS if path.resolve() not in linked] == []


def test_the_screenshot_exists_and_is_shown():
    with Image.open(SCREENSHOT) as picture:
        assert picture.format == "PNG"
        assert picture.width >= 800 and picture.height >= 500
    assert "docs/screenshot.png" in links(README)


@pytest.mark.parametrize("path", DOCS, ids=lambda path: path.name)
def test_each_document_starts_with_what_the_reader_can_do(path):
    """A title, then a paragraph of prose before any list, table, code or subheading."""
    blocks = [block.strip() for block in path.read_text().split("\n\n") if block.strip()]
    assert blocks[0].startswith("# ") and "\n" not in blocks[0]
    assert re.match(r"[A-Z][^\n#|`-]", blocks[1]), blocks[1]


def test_the_module_map_names_the_sections_in_order_and_objects_that_exist():
    """plotserve's docstring map: one entry per section banner, in file order, naming real objects."""
    import plotserve

    source = (ROOT / "plotserve.py").read_text()
    banners = re.findall(r"^# =+\n# (.+)\n# =+$", source, re.M)
    map_text = plotserve.__doc__.split("MAP:", 1)[1].split("SECURITY", 1)[0]
    entries = re.findall(r"^- ([^:\n]+):", map_text, re.M)
    assert entries == banners
    for name in re.findall(r"``([A-Za-z_][\w.]*)``", map_text):
        obj = plotserve
        for part in name.split("."):
            assert hasattr(obj, part), name
            obj = getattr(obj, part)


def test_every_measurement_names_the_command_that_reproduces_it():
    """Each subsection of docs/performance.md's measurements runs a script of bench/ that exists."""
    text = (ROOT / "docs" / "performance.md").read_text()
    measurements = text.split("\n## Measurements\n", 1)[1].split("\n## ", 1)[0]
    sections = re.split(r"^### .*$", measurements, flags=re.M)[1:]
    assert len(sections) >= 4
    for section in sections:
        scripts = re.findall(r"`python (bench/[\w.]+\.py)[^`]*`", section)
        assert scripts, section[:200]
        assert all((ROOT / script).is_file() for script in scripts), scripts
