"""Side by side: ?_compare=NAME&NAME=A&NAME=B shows one picture per value, each its own live URL.

HTTP tests for the query, the JSON twin, the form's redirect and the errors; Chromium for the
pictures decoding, refreshing live one by one, and the "Compare side by side" control.
"""

import json
import re
import urllib.parse

import pytest
from conftest import EXAMPLES, running_server, training

import plotserve

SMOOTH = "/training?_compare=smooth&smooth=1&smooth=5&smooth=20"


def sources(html: str) -> list[str]:
    return [src.replace("&amp;", "&") for src in re.findall(r'<img class="live" src="([^"]+)"', html)]


def test_one_live_picture_per_value(examples):
    answer = examples.get(SMOOTH + "&logy=true")
    assert answer.status == 200
    assert sources(answer.text) == ["training.png?logy=true", "training.png?smooth=5&logy=true", "training.png?smooth=20&logy=true"]
    assert re.findall(r"<figcaption><a[^>]*>([^<]*)</a>", answer.text) == ["smooth = 1", "smooth = 5", "smooth = 20"]
    assert answer.text.count(f'data-refresh="{plotserve.DEFAULT_REFRESH}"') == 3 and 'class="secondary pause"' in answer.text
    # The control shows what is compared; the form keeps the shared values.
    assert '<option value="smooth" selected>smooth</option>' in answer.text and 'value="1 | 5 | 20"' in answer.text
    assert 'id="field-smooth"' not in answer.text and 'id="field-logy" name="logy" value="true" checked' in answer.text
    images = [examples.get("/" + src) for src in sources(answer.text)]
    assert [image.status for image in images] == [200, 200, 200]
    assert len({image.body for image in images}) == 3  # three different pictures


def test_the_json_twin_lists_each_picture(examples):
    answer = examples.get(SMOOTH.replace("/training?", "/training.json?"))
    data = json.loads(answer.body)
    assert answer.status == 200 and data["compare"] == "smooth"
    assert [view["value"] for view in data["views"]] == ["1", "5", "20"]
    assert [view["image"] for view in data["views"]] == ["training.png", "training.png?smooth=5", "training.png?smooth=20"]
    assert [view["values"]["smooth"] for view in data["views"]] == [1, 5, 20]


def test_the_form_is_redirected_to_the_comparison_url(examples):
    query = urllib.parse.urlencode(
        {
            "_form": "1",
            "smooth": "3",
            "metrics": "f1",
            "last": "",
            "_compare": "smooth",
            "_values": " 2 |7| 2 ",
            "_refresh": str(plotserve.DEFAULT_REFRESH),
        }
    )
    answer = examples.get(f"/training?{query}")
    assert answer.status == 303
    assert answer.headers["location"] == "./training?_compare=smooth&smooth=2&smooth=7&metrics=f1"
    # An empty comparison field is the single view.
    query = urllib.parse.urlencode({"_form": "1", "smooth": "3", "_compare": "", "_values": ""})
    assert examples.get(f"/training?{query}").headers["location"] == "./training?smooth=3"


@pytest.mark.parametrize(
    "query, captions",
    [
        ("_compare=logy", ["logy = false", "logy = true"]),
        ("_compare=kind", ["kind = sine", "kind = square", "kind = sawtooth"]),
    ],
)
def test_no_values_compares_every_choice(examples, query, captions):
    name = "training" if "logy" in query else "wave"
    answer = examples.get(f"/{name}?{query}")
    assert answer.status == 200
    assert re.findall(r"<figcaption><a[^>]*>([^<]*)</a>", answer.text) == captions


def test_no_values_for_a_file_compares_every_data_file(tmp_path):
    training.write_training_log(tmp_path / "a.csv", rows=20)
    training.write_training_log(tmp_path / "b.csv", rows=40)
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=tmp_path), workers=0) as client:
        answer = client.get("/training?_compare=log")
        assert sources(answer.text) == ["training.png?log=a.csv", "training.png?log=b.csv"]


@pytest.mark.parametrize(
    "path, status, message",
    [
        ("/training?_compare=nope", 400, "cannot compare &#x27;nope&#x27;: training takes log, smooth"),
        ("/training?_compare=smooth", 400, "give the values of smooth to compare"),
        ("/training?_compare=smooth&" + "&".join(f"smooth={n}" for n in range(1, 14)), 400, "at most 12 values side by side, not 13"),
        ("/training?_compare=smooth&smooth=5&smooth=0", 400, "smooth: must be at least 1"),
        ("/training?_compare=smooth&smooth=5&smooth=9&logy=maybe", 400, "expected true or false"),
        ("/training?_compare=smooth&smooth=5&bogus=1", 400, "unknown parameter &#x27;bogus&#x27;"),
        ("/training?_compare=log&log=../x.csv&log=training_log.csv", 403, "outside the data directory"),
        ("/training.png?_compare=smooth&smooth=5", 400, None),
    ],
)
def test_bad_comparisons_say_what_is_wrong(examples, path, status, message):
    answer = examples.get(path)
    assert answer.status == status
    if message is None:
        assert "a comparison is a page" in answer.headers["x-plotserve-error"]
    else:
        assert message in answer.text


def test_a_bad_value_spoils_only_its_own_picture(examples):
    answer = examples.get("/training?_compare=smooth&smooth=5&smooth=0")
    assert sources(answer.text) == ["training.png?smooth=5"]
    assert '<p class="problem" role="alert">smooth: must be at least 1</p>' in answer.text


# -- in Chromium ------------------------------------------------------------------------------------


ALL_DRAWN = "() => [...document.querySelectorAll('img[data-src]')].every(i => i.complete && i.naturalWidth > 0)"


@pytest.mark.browser
def test_every_picture_refreshes_live_by_itself(page, log_dir):
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=log_dir), workers=1) as client:
        asked = []
        page.on("request", lambda request: asked.append(request.url.partition(str(client.port))[2]) if ".png" in request.url else None)
        page.goto(client.url + SMOOTH + "&_refresh=1")
        page.wait_for_function(ALL_DRAWN, timeout=60_000)
        assert page.eval_on_selector_all("img[data-src]", "all => all.map(i => i.getAttribute('data-src'))") == [
            "training.png",
            "training.png?smooth=5",
            "training.png?smooth=20",
        ]
        # Each is drawn at the panel's width: the narrow picture, as on a phone.
        shown = page.eval_on_selector_all("img[data-src]", "all => all.map(i => i.currentSrc)")
        shown = [url.partition(str(client.port))[2] for url in shown]
        assert shown == [f"/training.png?{smooth}_width=3.6&_height=2.7" for smooth in ("", "smooth=5&", "smooth=20&")]
        training.append_epoch(log_dir / training.LOG_NAME)
        # Each picture is fetched again at its own URL and swapped in once it changed.
        page.wait_for_function(
            "() => [...document.querySelectorAll('img[data-src]')].every(i => i.src.startsWith('blob:'))", timeout=60_000
        )
        statuses = page.eval_on_selector_all(".panel .status", "all => all.map(s => s.textContent)")
        assert len(statuses) == 3 and all(status.startswith("updated ") for status in statuses)
        assert set(shown) <= set(asked)
        page.wait_for_function(ALL_DRAWN, timeout=60_000)
        # Pausing one picture leaves the others live.
        page.click(".panel:nth-child(2) .pause")
        page.wait_for_function("() => document.querySelector('.panel:nth-child(2) .status').textContent.endsWith(' · paused')")
        assert page.text_content(".panel:nth-child(1) .pause") == "Pause"
        assert page.errors == []


@pytest.mark.browser
def test_the_compare_control_opens_the_comparison(page, examples):
    page.goto(examples.url + "/training?smooth=3")
    page.click("details.compare summary")
    page.select_option("#field-_compare", "smooth")
    page.fill("#field-_values", "2 | 8")
    page.click("button[type=submit]")
    page.wait_for_function(ALL_DRAWN, timeout=60_000)
    assert page.url == examples.url + "/training?_compare=smooth&smooth=2&smooth=8"
    assert page.eval_on_selector_all("img[data-src]", "all => all.map(i => i.naturalWidth)") == [360, 360]  # drawn for the panel
    assert page.errors == []
