"""Safe by default, on the network: where plotserve listens, who it answers, and what it says.

Every server here is real and every request goes to 127.0.0.1. Servers bound to 0.0.0.0 stand
for "bound to anything but loopback": they ask for a token even when reached over loopback.
"""

import contextlib
import http.client
import http.cookies
import json
import re
import secrets
import select
import subprocess
import sys
import urllib.parse

import psutil
import pytest
from conftest import ROOT, Client, exchange, running_server

import plotserve

SEC_FAULTS = str(ROOT / "tests" / "sources" / "sec_faults.py")
WAVES = str(ROOT / "plots" / "waves.py")
# A header line as it must look on the wire: a token, a colon, printable ASCII only.
HEADER_LINE = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+: [\x20-\x7e]*$")


def split_response(raw: bytes) -> tuple[int, list[bytes], bytes]:
    """(status, header lines, rest) of the first response in raw bytes."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    assert status_line.startswith(b"HTTP/1."), raw[:200]
    return int(status_line.split()[1]), lines, rest


def header_dict(lines: list[bytes]) -> dict[str, str]:
    return {line.partition(b":")[0].decode().lower(): line.partition(b":")[2].strip().decode("latin-1") for line in lines}


def cookie_name(client) -> str:
    """The token cookie's name for a server asked at 127.0.0.1:its port."""
    return plotserve.token_cookie(f"127.0.0.1:{client.port}")


def request_bytes(method: str, target: str, *headers: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


@pytest.fixture(scope="module")
def local():
    """The misbehaving plots, bound to loopback the default way, rendered in-process."""
    with running_server(SEC_FAULTS, workers=0) as client:
        yield client


@pytest.fixture(scope="module")
def exposed():
    """A server bound to every interface: it generated a token."""
    with running_server(WAVES, workers=0, address=("0.0.0.0", 0)) as client:
        yield client


def read_startup_line(process: subprocess.Popen, seconds: float = 60) -> str:
    """The first line plotserve prints (the URL), or fail if it does not come."""
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    assert ready, "plotserve printed nothing"
    return process.stdout.readline()


@contextlib.contextmanager
def cli(*args: str):
    """plotserve.py run as a command; yields (process, URL printed); stderr on process.stderr_text."""
    command = [sys.executable, str(ROOT / "plotserve.py"), *args, "--port", "0", "--no-browser", "--workers", "0"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = read_startup_line(process)
        match = re.search(r"(http://\S+)", line)
        assert match, line
        yield process, match.group(1)
    finally:
        process.terminate()
        _, process.stderr_text = process.communicate(timeout=30)


# -- where it listens ---------------------------------------------------------------------------


def test_server_binds_loopback_by_default():
    server = plotserve.PlotServer(sources=[SEC_FAULTS], workers=0)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        assert server.token == ""  # loopback needs none
        assert server.url == f"http://127.0.0.1:{port}/"
    finally:
        server.server_close()


def test_command_line_binds_loopback_by_default():
    with cli(SEC_FAULTS) as (process, url):
        port = urllib.parse.urlsplit(url).port
        assert url == f"http://127.0.0.1:{port}/"
        listening = [c for c in psutil.Process(process.pid).net_connections("inet") if c.status == psutil.CONN_LISTEN]
        assert [c.laddr.ip for c in listening] == ["127.0.0.1"]


# -- the token ------------------------------------------------------------------------------------


def test_token_is_generated_off_loopback_and_printed_in_the_url(exposed):
    server = exposed.server
    assert not server.local
    assert len(server.token) >= 24
    assert server.url == f"http://127.0.0.1:{exposed.port}/?token={server.token}"
    with running_server(WAVES, workers=0, address=("0.0.0.0", 0)) as other:
        assert other.server.token != server.token  # generated afresh, not a constant


@pytest.mark.parametrize(
    "how",
    ["none", "query", "header", "cookie", "prefix", "longer", "case", "empty header", "bearer", "other cookie"],
)
def test_wrong_or_missing_token_is_403(exposed, how):
    token = exposed.server.token
    wrong = ("y" if token.startswith("x") else "x") + token[1:]  # never the token itself (1 in 64 start with x)
    path, headers = "/wave.json", {}
    if how == "query":
        path += "?token=" + wrong
    elif how == "header":
        headers["Authorization"] = f"token {wrong}"
    elif how == "cookie":
        headers["Cookie"] = f"{cookie_name(exposed)}={wrong}"
    elif how == "prefix":
        path += "?token=" + token[:-1]
    elif how == "longer":
        headers["Authorization"] = f"token {token}x"
    elif how == "case":
        headers["Authorization"] = f"token {token.swapcase()}"
    elif how == "empty header":
        headers["Authorization"] = "token "
    elif how == "bearer":  # the right token under another scheme is not taken
        headers["Authorization"] = f"Bearer {token}"
    elif how == "other cookie":
        headers["Cookie"] = f"other={token}"
    answer = exposed.get(path, headers)
    assert answer.status == 403
    assert token.encode() not in answer.body
    assert "set-cookie" not in answer.headers
    assert exposed.get("/wave.json", {"Authorization": f"token {token}"}).status == 200


def test_query_token_sets_a_strict_cookie_and_drops_itself_from_the_address(exposed):
    token = exposed.server.token
    answer = exposed.get(f"/wave.json?cycles=2&token={token}")
    assert answer.status == 303
    assert answer.headers["location"] == "./wave.json?cycles=2"
    assert token not in answer.headers["location"]
    raw_cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in raw_cookie.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=strict"
    # No Path: the browser's default, the folder of this top-level page, is plotserve's top under
    # any prefix; Path=/ would hand the token to every other application behind the same proxy.
    assert "path" not in attributes
    cookie = http.cookies.SimpleCookie(raw_cookie)
    assert cookie[cookie_name(exposed)].value == token
    # The browser follows the redirect with the cookie: now the page answers.
    followed = exposed.get(answer.headers["location"][1:], {"Cookie": f"{cookie_name(exposed)}={token}"})
    assert followed.status == 200
    assert json.loads(followed.body)["values"]["cycles"] == 2
    image = exposed.get("/wave.png", {"Cookie": f"other=1; {cookie_name(exposed)}={token}"})
    assert image.status == 200
    assert image.image().size == (800, 500)


@pytest.mark.parametrize(
    ("base_url", "forwarded", "path"),
    [
        ("https://example.org/team/plots/", None, "Path=/team/plots"),
        ("/team/plots", None, "Path=/team/plots"),
        ("/team/plots/", "/other/mount/", "Path=/other/mount"),  # the proxy's word for this request
        ("", "/other/mount", "Path=/other/mount"),
        ("", "/a b", None),  # not a path: ignored
        ("", "/a;Domain=example.org", None),
    ],
)
def test_the_token_cookie_path_follows_base_url_and_forwarded_prefix(base_url, forwarded, path):
    with running_server(WAVES, workers=0, token="t", base_url=base_url) as client:  # noqa: S106
        answer = client.get("/?token=t", {"X-Forwarded-Prefix": forwarded} if forwarded else {})
    assert answer.status == 303 and answer.headers["location"] == "./"
    attributes = [part.strip() for part in answer.headers["set-cookie"].split(";")]
    assert [a for a in attributes if a.lower().startswith(("path", "domain"))] == ([path] if path else [])


def test_token_in_an_authorization_header(exposed):
    token = exposed.server.token
    for method in ("GET", "HEAD"):
        answer = exposed.get("/wave.json", {"Authorization": f"token {token}"}, method=method)
        assert answer.status == 200
        assert "set-cookie" not in answer.headers


def test_a_given_token_is_used():
    given = "given-" + secrets.token_hex(4)
    with running_server(WAVES, workers=0, address=("0.0.0.0", 0), token=given) as client:
        assert client.server.url.endswith(f"/?token={given}")
        assert client.get("/wave.json", {"Authorization": f"token {given}"}).status == 200
        assert client.get("/wave.json").status == 403


def test_token_is_never_logged(capfd):
    with running_server(WAVES, workers=0, address=("0.0.0.0", 0), quiet=False) as client:
        token = client.server.token
        encoded = "".join(f"%{ord(char):02X}" for char in token)
        answers = [
            client.get(f"/wave.json?token={token}"),
            client.get(f"/wave.json?cycles=2&token={token}&grid=true"),
            client.get(f"/wave.json?%74oken={token}"),  # the name percent-encoded
            client.get(f"/wave.json?token={encoded}"),  # the value percent-encoded
            client.get(f"/wave.json?%74%6F%6B%65%6E={encoded}"),
            client.get(f"/wave.json?TOKEN={token}"),
            client.get(f"/wave.json?x={token}"),
            client.get(f"/wave.json?token={token}x"),
            client.get("/wave.json", {"Authorization": f"token {token}"}),
            client.get("/wave.json", {"Cookie": f"{cookie_name(client)}={token}"}),
            client.get(f"/nope?token={token}", method="HEAD"),
            client.get(f"/wave.json?token={token}", method="POST"),
        ]
        # Errors http.server raises itself log the request line too.
        too_large = exchange(client.port, request_bytes("GET", f"/?token={token}", "X-Big: " + "a" * 70_000))
        bad_version = exchange(client.port, f"GET /?token={token} HTTP/1.x\r\n\r\n".encode())
        assert answers[0].status == 303 and answers[8].status == 200
        assert split_response(too_large)[0] == 431 and split_response(bad_version)[0] == 400
        err = capfd.readouterr().err
    assert '"GET /wave.json?' in err and '"POST /wave.json' in err and " 431 " in err  # the log was captured
    assert token not in err
    assert encoded not in err and encoded.lower() not in err
    for answer in answers:
        assert token.encode() not in answer.body
        assert token not in answer.headers.get("location", "")


def test_command_line_token_printed_at_start_and_not_logged():
    with cli(WAVES, "--host", "0.0.0.0") as (process, url):
        parts = urllib.parse.urlsplit(url)
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        assert parts.hostname == "127.0.0.1" and len(token) >= 24
        client = Client(None, "127.0.0.1", parts.port)
        assert client.get("/wave.json").status == 403
        assert client.get(f"/wave.json?token={token}").status == 303
        assert client.get("/wave.json", {"Authorization": f"token {token}"}).status == 200
    assert "GET /wave.json" in process.stderr_text
    assert token not in process.stderr_text


def test_empty_token_turns_authentication_off_with_a_warning():
    with cli(WAVES, "--host", "0.0.0.0", "--token", "") as (process, url):
        parts = urllib.parse.urlsplit(url)
        assert parts.query == ""
        assert Client(None, "127.0.0.1", parts.port).get("/wave.json").status == 200
    assert "warning" in process.stderr_text
    assert "authentication off" in process.stderr_text


# -- the Host header ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host, status",
    [
        ("evil.example", 403),
        ("evil.example:{port}", 403),
        ("127.0.0.1.evil.example", 403),
        ("localhost.evil.example:{port}", 403),
        ("evil.example#@127.0.0.1", 400),  # not a host name: unreadable, not merely foreign
        ("[::2]:{port}", 403),
        ("localhost:{port}", 200),
        ("LOCALHOST:{port}", 200),
        ("localhost", 200),
        ("127.0.0.1:{port}", 200),
        ("127.0.0.1", 200),
        ("[::1]:{port}", 200),
        ("plots.example:{port}", 403),  # allowed only where --allow-host names it
    ],
)
def test_host_header_is_checked_against_loopback_names(local, host, status):
    answer = local.get("/ok.json", {"Host": host.format(port=local.port)})
    assert answer.status == status
    if status == 403:
        assert b"allow-host" in answer.body


@pytest.mark.parametrize(
    "host, status",
    [("plots.example:{port}", 200), ("PLOTS.example", 200), ("localhost:{port}", 200), ("other.example", 403), ("plots.example.evil", 403)],
)
def test_allow_host_adds_names(host, status):
    with running_server(SEC_FAULTS, workers=0, allow_hosts=["plots.example"]) as client:
        assert client.get("/ok.json", {"Host": host.format(port=client.port)}).status == status


def test_two_host_headers_are_a_400(local):
    raw = exchange(local.port, b"GET /ok.json HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
    assert split_response(raw)[0] == 400


# -- methods --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405_with_allow(local, method):
    body = "n=5"
    raw = exchange(local.port, request_bytes(method, "/ok.png", f"Content-Length: {len(body)}") + body.encode())
    status, lines, _ = split_response(raw)
    headers = header_dict(lines)
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert headers["x-content-type-options"] == "nosniff"
    assert local.health()["status"] == "ok"


@pytest.mark.parametrize("method", ["BREW", "TRACE", "CONNECT", "PROPFIND", "get", "_refuse_method", "GET_"])
def test_unknown_methods_are_501(local, method):
    raw = exchange(local.port, request_bytes(method, "/ok.png"))
    status, lines, body = split_response(raw)
    assert status == 501
    assert header_dict(lines)["x-content-type-options"] == "nosniff"
    assert method.encode() not in body  # nothing from the request is echoed


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/ok",
        "/ok.png",
        "/ok.svg",
        "/ok.pdf",
        "/ok.json",
        "/index.json",
        "/-/static/plotserve.css",
        "/-/static/plotserve.js",
        "/nope",
        "/ok?n=x",
        "/ok.png?n=x",
        "/raise",
        "/raise.png",
    ],
)
def test_head_has_the_headers_of_get_and_no_body(local, path):
    local.get(path)  # warm the cache, so that GET and HEAD below describe the same image
    head = request_bytes("HEAD", path).replace(b"Connection: close\r\n", b"")
    # HEAD then GET on one connection: if HEAD sent a body, it would sit where the second status line must be.
    raw = exchange(local.port, head + request_bytes("GET", "/-/health.json"))
    status, lines, rest = split_response(raw)
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
    got = local.get(path)
    assert status == got.status
    headers = header_dict(lines)
    assert headers["content-type"] == got.headers["content-type"]
    assert int(headers["content-length"]) == len(got.body) > 0


# -- response headers -----------------------------------------------------------------------------


def _answers_of_every_kind(client) -> dict[str, bytes]:
    """Raw answers for every status plotserve gives, from its own code and from http.server's."""
    port = client.port
    etag = client.get("/ok.png?n=4").headers["etag"]
    requests = {
        "index": request_bytes("GET", "/"),
        "page": request_bytes("GET", "/ok"),
        "png": request_bytes("GET", "/ok.png"),
        "svg": request_bytes("GET", "/ok.svg"),
        "json": request_bytes("GET", "/ok.json"),
        "index json": request_bytes("GET", "/index.json"),
        "health": request_bytes("GET", "/-/health.json"),
        "css": request_bytes("GET", "/-/static/plotserve.css"),
        "js": request_bytes("GET", "/-/static/plotserve.js"),
        "304": request_bytes("GET", "/ok.png?n=4", f"If-None-Match: {etag}"),
        "303 form": request_bytes("GET", "/ok?_form=1&n=5"),
        "400 value": request_bytes("GET", "/ok?n=x"),
        "400 image": request_bytes("GET", "/ok.png?n=x"),
        "400 json": request_bytes("GET", "/ok.json?n=x"),
        "400 encoding": request_bytes("GET", "/%ff"),
        "400 syntax": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
        "403 host": request_bytes("GET", "/ok", "Host: evil.example").replace(b"Host: 127.0.0.1\r\n", b""),
        "404": request_bytes("GET", "/nope"),
        "405": request_bytes("POST", "/ok"),
        "414": request_bytes("GET", "/" + "a" * 9000),
        "431": request_bytes("GET", "/", "X-Big: " + "a" * 70_000),
        "500 page": request_bytes("GET", "/raise"),
        "500 image": request_bytes("GET", "/raise.png"),
        "501": request_bytes("BREW", "/"),
        "http/0.9": b"GET /\r\n\r\n",
    }
    return {name: exchange(port, data) for name, data in requests.items()}


def test_every_answer_is_nosniff_and_text_is_utf8(local):
    answers = _answers_of_every_kind(local)
    statuses = set()
    for name, raw in answers.items():
        status, lines, _ = split_response(raw)
        statuses.add(status)
        headers = header_dict(lines)
        assert headers.get("x-content-type-options") == "nosniff", name
        content_type = headers.get("content-type", "")
        if content_type.startswith(("text/", "application/json")):
            assert content_type.endswith("; charset=utf-8"), (name, content_type)
    assert statuses >= {200, 303, 304, 400, 403, 404, 405, 414, 431, 500, 501}


def test_every_html_answer_has_a_restrictive_csp(local):
    html_answers = 0
    for name, raw in _answers_of_every_kind(local).items():
        _, lines, _ = split_response(raw)
        headers = header_dict(lines)
        if headers.get("content-type", "").startswith("text/html"):
            html_answers += 1
            policy = headers.get("content-security-policy", "")
            directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
            assert directives.get("default-src") == ["'none'"], name
            assert directives.get("script-src") == ["'self'"], name
            assert directives.get("frame-ancestors") == ["'none'"], name
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, name
    assert html_answers >= 12


@pytest.mark.parametrize(
    "path, status",
    [
        ("/injection", 500),
        ("/injection.png", 500),
        ("/injection.svg", 500),
        ("/raise?message=bad%0d%0aSet-Cookie:%20x=1%0d%0a%0d%0a<b>", 500),
        ("/raise.png?message=bad%0d%0aSet-Cookie:%20x=1", 500),
        ("/raise.pdf?message=bad%0aSet-Cookie:%20x=1%0a", 500),
        ("/raise.png?message=bad%c2%85Set-Cookie:%20x=1%e2%80%a8X:%20y", 500),  # NEL and LINE SEPARATOR
        ("/raise?_form=1&message=a%0d%0aSet-Cookie:%20x=1", 303),  # the message goes into Location
        ("/raise.json?message=a%0d%0aSet-Cookie:%20x=1", 200),
    ],
)
def test_no_line_break_from_a_message_reaches_a_header(local, path, status):
    got, lines, body = split_response(exchange(local.port, request_bytes("GET", path)))
    assert got == status
    for line in lines:
        assert HEADER_LINE.match(line), line
    names = [line.partition(b":")[0].lower() for line in lines]
    assert b"set-cookie" not in names and b"x" not in names
    assert names.count(b"x-plotserve-error") == (status == 500)
    assert b"<script>" not in body and b"<b>" not in body


def test_injected_error_is_one_header_line_and_escaped_on_the_page(local):
    _, lines, _ = split_response(exchange(local.port, request_bytes("GET", "/injection.png")))
    error = header_dict(lines)["x-plotserve-error"]
    assert error.startswith("ValueError: bad Set-Cookie: x=1")
    page = local.get("/injection")
    assert page.status == 500
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
@pytest.mark.parametrize("suffix", ["", ".png", ".svg", ".pdf"])
def test_non_ascii_error_messages_never_break_an_answer(local, suffix):
    answer = local.get(f"/unicode{suffix}")
    assert answer.status == 500
    error = answer.headers["x-plotserve-error"]
    assert error.isascii() and error.startswith("ValueError: ")
    if suffix == "":
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert "ValueError: Ünïcödé ✓ 画" in answer.text  # UTF-8, not mangled
    elif suffix == ".png":
        assert answer.image().size[0] > 100
    else:
        assert answer.body.startswith({".svg": b"<?xml", ".pdf": b"%PDF-"}[suffix])


def test_non_ascii_text_from_the_query_is_escaped_in_utf8(local):
    message = "Ünïcödé ✓ 画 <i>&"
    answer = local.get("/raise?message=" + urllib.parse.quote(message))
    assert answer.status == 500
    escaped = "Ünïcödé ✓ 画 &lt;i&gt;&amp;"
    assert f"ValueError: {escaped}" in answer.text
    assert f'value="{escaped}"' in answer.text  # the form shows what was typed
    assert "<i>" not in answer.text
    assert answer.headers["x-plotserve-error"].isascii()


def test_the_token_cookie_is_named_for_the_port():
    same = secrets.token_hex(8)  # one token for both, so only the name can tell their cookies apart
    options = dict(workers=0, address=("0.0.0.0", 0), token=same)
    with running_server(WAVES, **options) as one, running_server(WAVES, **options) as two:
        names = set()
        for client in (one, two):
            cookie = http.cookies.SimpleCookie(client.get(f"/wave.json?token={same}").headers["set-cookie"])
            names |= set(cookie)
            assert set(cookie) == {f"plotserve_token_{client.port}"}
        assert len(names) == 2  # two servers on one machine: neither overwrites the other's cookie
        # The other port's cookie, or the unnamed one, is not this server's.
        assert one.get("/wave.json", {"Cookie": f"{cookie_name(two)}={same}"}).status == 403
        assert one.get("/wave.json", {"Cookie": f"plotserve_token={same}"}).status == 403
        assert one.get("/wave.json", {"Cookie": f"{cookie_name(one)}={same}"}).status == 200


# -- the printed URL ----------------------------------------------------------------------------------


def _open_as_printed(url: str) -> int:
    """Open a URL exactly as printed, as a browser would: follow the token's redirect with its cookie."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
        answer = connection.getresponse()
        answer.read()
        if answer.status != 303:
            return answer.status
        cookie = answer.getheader("Set-Cookie").partition(";")[0]
        connection.request("GET", urllib.parse.urljoin(parts.path, answer.getheader("Location")), headers={"Cookie": cookie})
        followed = connection.getresponse()
        followed.read()
        return followed.status
    finally:
        connection.close()


@pytest.mark.parametrize(
    "args, shown",
    [
        (["--host", "127.0.0.2"], "127.0.0.2"),
        (["--host", "::"], "[::1]"),
        (["--host", "::1"], "[::1]"),
        (["--host", "0.0.0.0", "--allow-host", "plots.example"], "127.0.0.1"),
        (["--host", "::", "--allow-host", "plots.example"], "[::1]"),
    ],
)
def test_the_url_printed_at_start_up_works_as_printed(args, shown):
    with cli(WAVES, *args) as (_, url):
        assert urllib.parse.urlsplit(url).netloc.rpartition(":")[0] == shown
        assert _open_as_printed(url) == 200, url


# -- Host, request target and ETag, read strictly ---------------------------------------------------


@pytest.mark.parametrize(
    "head, status",
    [
        ("GET /ok.json HTTP/1.1\r\n", 400),  # HTTP/1.1 without Host
        ("GET /ok.json HTTP/1.1\r\nHost:\r\n", 400),
        ("GET /ok.json HTTP/1.1\r\nHost:  \r\n", 400),
        ("GET /ok.json HTTP/1.1\r\nHost: localhost:evil\r\n", 400),
        ("GET /ok.json HTTP/1.1\r\nHost: 127.0.0.1:80:80\r\n", 400),
        ("GET /ok.json HTTP/1.1\r\nHost: user@127.0.0.1\r\n", 400),
        ("GET /ok.json HTTP/1.1\r\nHost: [::1\r\n", 400),
        ("GET /ok.json HTTP/1.0\r\n", 200),  # HTTP/1.0 may leave Host out
        ("GET /ok.json HTTP/1.1\r\nHost: localhost:1\r\n", 200),
        ("GET /ok.json HTTP/1.1\r\nHost: [::1]\r\n", 200),
        ("GET http://evil.example/ok.json HTTP/1.1\r\nHost: 127.0.0.1\r\n", 403),  # the target's authority is the one that counts
        ("GET http://127.0.0.1/ok.json HTTP/1.1\r\nHost: evil.example\r\n", 200),
        ("GET http://localhost:evil/ok.json HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400),
        ("GET ftp://127.0.0.1/ok.json HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400),
        ("GET http://evil.example:80@127.0.0.1/ok.json HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400),
    ],
)
def test_host_and_request_target_are_read_strictly(local, head, status):
    raw = exchange(local.port, (head + "Connection: close\r\n\r\n").encode())
    assert split_response(raw)[0] == status, raw[:300]


def test_a_304_carries_the_images_own_etag(local):
    etag = local.get("/ok.png?n=6").headers["etag"]
    for given in (f'"other", {etag}', f"W/{etag}", "*", f'{etag}, "other"'):
        answer = local.get("/ok.png?n=6", {"If-None-Match": given})
        assert answer.status == 304
        assert answer.headers["etag"] == etag, given


# -- other web sites -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, 403),  # <img> elsewhere
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}, 403),  # fetch() elsewhere
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, 403),
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200),  # a link followed
        ({"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}, 200),
        ({"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, 200),
        ({"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200),  # typed or bookmarked
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Origin": "http://127.0.0.1:{port}"}, 200),
        ({}, 200),  # curl, scripts
    ],
)
def test_requests_that_other_sites_make_are_refused(local, headers, status):
    headers = {name: value.format(port=local.port) for name, value in headers.items()}
    renders = local.health()["renders"]
    answer = local.get(f"/ok.png?view={secrets.randbelow(10**9)}", headers)
    assert answer.status == status
    assert local.health()["renders"] == renders + (status == 200)  # a refused one costs no render


def test_a_page_on_another_site_cannot_make_the_browser_render(local, page, tmp_path):
    """Real Chromium on a page from 127.0.0.2 (another site) with an image, a fetch and a link to plotserve."""
    import functools
    import http.server
    import threading

    target = f"http://127.0.0.1:{local.port}"
    (tmp_path / "attack.html").write_text(
        f'<img id="img" src="{target}/ok.png?view=424242">'
        f'<a id="link" href="{target}/ok?view=434343">plots</a>'
        f"<script>fetch('{target}/ok.png?view=444444', {{mode: 'no-cors'}}).catch(() => null)</script>"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    other = http.server.ThreadingHTTPServer(("127.0.0.2", 0), handler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        renders = local.health()["renders"]
        page.goto(f"http://127.0.0.2:{other.server_address[1]}/attack.html")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.getElementById('img').naturalWidth") == 0  # refused, so not drawn
        assert local.health()["renders"] == renders
        page.click("#link")  # the user's own click: a top-level navigation is answered
        page.wait_for_load_state("networkidle")
        assert page.url.startswith(f"{target}/ok")
        assert page.locator("h1").count() == 1 and "403" not in page.title()
    finally:
        other.shutdown()
        other.server_close()
