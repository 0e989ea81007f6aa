"""Every JSON answer escapes <, > and & (\\u003c, \\u003e, \\u0026), as Django's json_script does, so that
JSON holding "</script>" in a title, a value or an error is safe wherever it is inlined; and it still
parses back to the very strings the plot and the query gave."""

import json
import pathlib

import pytest
from conftest import running_server

import plotserve

SOURCE = str(pathlib.Path(__file__).parent / "sources" / "markup.py")
SCRIPT = "</script><script>alert(1)</script>"
MARKED = "%26lt%3B%3C"  # "&lt;<" once decoded


@pytest.fixture(scope="module", params=[1, 0], ids=["workers", "in-process"])
def client(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    with running_server(SOURCE, limits=plotserve.Limits(data_dir=folder), workers=request.param) as client:
        yield client


# Every kind of JSON answer: index, health, the twin (fine, with a query value, with bad values, with
# a failed render, with a view refused), a comparison, and a query that cannot be decoded.
ANSWERS = {
    "index": ("/index.json", 200),
    "health": ("/-/health.json", 200),
    "twin": ("/markup.json", 200),
    "twin with markup in a value": (f"/markup.json?label={MARKED}%2Fscript%3E", 200),
    "twin with bad values": ("/markup.json?kind=%3Cnone%3E&%3Cx%3E=1&_xlim=%3C,%3E", 400),
    "twin of a failed render": ("/markup.json?fail=true", 200),
    "twin with a refused view": ("/markup.json?_axes=7&_xlim=0,1", 200),
    "comparison": ("/markup.json?_compare=kind", 200),
    "comparison with a bad value": ("/markup.json?_compare=kind&kind=a%3Cb&kind=%3Cb%3E", 400),
    "unreadable query": ("/markup.json?label=%ff%3C", 400),
}


@pytest.mark.parametrize("name", list(ANSWERS))
def test_every_json_answer_escapes_markup_and_parses_back(client, name):
    path, status = ANSWERS[name]
    answer = client.get(path)
    assert answer.status == status, answer.body[:500]
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    for raw in (b"<", b">", b"&"):
        assert raw not in answer.body, (raw, answer.body[:500])
    value = json.loads(answer.body)
    assert plotserve.json_bytes(value) == answer.body  # the same value, written by the one helper


def strings(value):
    """Every string in a JSON value, keys included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def test_the_strings_come_back_with_their_markup(client):
    """Escaped is not mangled: titles, help, choices, defaults, values, errors parse back as given."""
    twin = json.loads(client.get("/markup.json").body)
    assert twin["summary"] == f"A {SCRIPT} & <b>title</b>."
    params = {param["name"]: param for param in twin["params"]}
    assert params["label"]["default"] == "</script><b>&amp;"
    assert params["label"]["help"] == "shown as the title: </script> & <i>."
    assert params["kind"]["choices"] == ["a<b", "c>d&e"]
    assert f"A {SCRIPT} & <b>title</b>." in set(strings(json.loads(client.get("/index.json").body)))
    valued = json.loads(client.get(f"/markup.json?label={MARKED}%2Fscript%3E").body)
    assert valued["values"]["label"] == "&lt;</script>"
    assert "label=%26lt%3B%3C%2Fscript%3E" in valued["image"]
    bad = json.loads(client.get("/markup.json?kind=%3Cnone%3E&%3Cx%3E=1").body)
    assert bad["errors"]["kind"] == "must be one of: a<b, c>d&e"
    assert "'<x>'" in bad["errors"][""]
    failed = json.loads(client.get("/markup.json?fail=true").body)
    assert SCRIPT.replace("alert(1)", "alert('</script><b>&amp;')") in failed["render_error"]
    compared = json.loads(client.get("/markup.json?_compare=kind").body)
    assert "a<b" in set(strings(compared)) and "c>d&e" in set(strings(compared))
