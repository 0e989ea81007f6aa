"""Under a proxy prefix: a real nginx mounts plotserve at three paths, headless Chromium uses it there.

The mounts are those users meet, each as that proxy forwards: an nginx ``location /team/plots/``
that strips the prefix (``Host`` becomes the upstream's, and it sends ``X-Forwarded-Prefix``);
jupyter-server-proxy's ``/user/NAME/proxy/9999/`` (strips it, passes the browser's ``Host`` on,
sends ``X-Forwarded-Prefix`` without the last slash); code-server's ``/proxy/9999/`` (strips it,
passes the ``Host`` on, sends no prefix); and code-server's ``/absproxy/9999/``, which keeps the
prefix, served by a plotserve started with ``--base-url /absproxy/9999/``. The browser's host name at the hub is played by the
``Host`` nginx sends; plotserve is started with ``allow_hosts`` naming it, as a user would with
``--allow-host``. Every request a page makes must stay under its prefix: a root-absolute URL
would leave it and reach nginx's own 404.
"""

import http.client
import os
import shutil
import socket
import subprocess
import time
import urllib.parse

import pytest
from conftest import exchange, running_server

import plotserve

pytestmark = pytest.mark.browser

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MOUNTED = os.path.join(os.path.dirname(__file__), "sources", "mounted.py")
WAVES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "plots", "waves.py")
TOKEN = "prefix-test-token"
# (prefix, whether nginx sends X-Forwarded-Prefix for it)
PREFIXES = ["/team/plots/", "/user/alice/proxy/9999/", "/proxy/9999/", "/absproxy/9999/"]
SECURE = ["/secure/plots/", "/user/bob/proxy/9998/"]
HUBS = ("hub.example.org", "code.example.org")  # as --allow-host names them

NGINX_CONF = """\
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 404 "nginx: not under a plotserve prefix\\n"; }}
        location /team/plots/ {{
            proxy_pass http://127.0.0.1:{backend}/;
            proxy_set_header X-Forwarded-Prefix /team/plots/;
        }}
        location /user/alice/proxy/9999/ {{
            proxy_pass http://127.0.0.1:{backend}/;
            proxy_set_header Host hub.example.org;
            proxy_set_header X-Forwarded-Prefix /user/alice/proxy/9999;
        }}
        location /proxy/9999/ {{
            proxy_pass http://127.0.0.1:{backend}/;
            proxy_set_header Host code.example.org:8080;
        }}
        location /absproxy/9999/ {{ proxy_pass http://127.0.0.1:{absolute}; }}
        location /secure/plots/ {{
            proxy_pass http://127.0.0.1:{secure}/;
            proxy_set_header X-Forwarded-Prefix /secure/plots;
        }}
        location /user/bob/proxy/9998/ {{ proxy_pass http://127.0.0.1:{secure}/; }}
        location /user/carol/proxy/9997/ {{
            proxy_pass http://127.0.0.1:{secure}/;
            proxy_set_header Host hub.example.org;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mounted-data")
    (folder / "level.txt").write_text("2")
    return folder


@pytest.fixture(scope="module")
def nginx(tmp_path_factory, data_dir):
    """nginx on a free port in front of two plotservers: one open (loopback), one with a token."""
    if not os.path.exists(NGINX):
        pytest.fail(f"nginx is not installed at {NGINX}: apt-get install nginx")
    limits = plotserve.Limits(data_dir=data_dir)
    with (
        running_server(MOUNTED, WAVES, limits=limits, workers=0, allow_hosts=HUBS) as open_server,
        running_server(MOUNTED, WAVES, limits=limits, workers=0, token=TOKEN) as secure_server,
        running_server(MOUNTED, WAVES, limits=limits, workers=0, base_url="/absproxy/9999/") as absolute_server,
    ):
        tmp = tmp_path_factory.mktemp("nginx")
        port = free_port()
        conf = tmp / "nginx.conf"
        ports = dict(backend=open_server.port, secure=secure_server.port, absolute=absolute_server.port)
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, **ports))
        log = tmp / "error.log"
        with log.open("ab") as output:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen([NGINX, "-p", str(tmp), "-e", str(log), "-c", str(conf)], stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"nginx did not start: {log.read_text()}")
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(15)


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def record_requests(page) -> list[str]:
    """Every URL the page asks for (documents, assets, images, fetches), as it asks."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def assert_under(urls: list[str], base: str) -> None:
    strays = [url for url in urls if not url.startswith(("blob:", "data:")) and not url.startswith(base)]
    assert not strays, f"requests left the prefix {base}: {strays}"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_index_and_plot_page_load_everything_under_the_prefix(nginx, page, prefix):
    base = nginx + prefix
    seen = record_requests(page)
    failed = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.goto(base)
    page.wait_for_load_state("networkidle")
    # The stylesheet applied (a root-absolute link would have been nginx's 404), every thumbnail drew.
    assert page.evaluate("getComputedStyle(document.querySelector('header')).display") == "flex"
    assert page.eval_on_selector_all(".card img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)") == [True] * 7
    cards = page.eval_on_selector_all("a.card", "links => links.map(a => a.href)")
    assert cards == [base + name for name in ("bars", "broken", "level", "quits", "slow", "spectrum", "wave")]
    page.click("a.card[href=wave]")
    page.wait_for_load_state("networkidle")
    assert page.url == base + "wave"
    assert page.evaluate("document.getElementById('plot').naturalWidth") == 800
    assert page.evaluate("document.querySelector('a.brand').href") == base
    assert page.evaluate("document.querySelector('a.json').href").startswith(base + "wave.json")
    # Their error pictures, 500s by design.
    assert sorted(failed) == [base + f"{name}.png?_width=4&_height=2.5&_dpi=80" for name in ("broken", "quits")]
    assert not page.errors
    assert_under(seen, base)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_form_submits_to_its_view_under_the_prefix(nginx, page, prefix):
    base = nginx + prefix
    seen = record_requests(page)
    page.goto(base + "bars")
    page.eval_on_selector("#field-n", "input => { input.value = '7'; }")
    page.click("button[type=submit]")
    page.wait_for_url(base + "bars?n=7")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.getElementById('plot').naturalWidth") == 800
    assert page.eval_on_selector("#field-n", "input => input.value") == "7"
    # A bad value re-shows the form (400) at the same place.
    page.goto(base + "bars?n=99")
    assert page.locator(".field.invalid .message").count() == 1
    assert page.evaluate("document.querySelector('a.brand').href") == base
    assert_under(seen, base)


SHOWN_PIXELS = """() => {
  const img = document.getElementById("plot");
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  canvas.getContext("2d").drawImage(img, 0, 0);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let red = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i] > 200 && data[i + 1] < 60 && data[i + 2] < 60) red += 1;
  return red;
}"""


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_live_image_refreshes_under_the_prefix(nginx, page, data_dir, prefix):
    base = nginx + prefix
    (data_dir / "level.txt").write_text("2")
    seen = record_requests(page)
    page.goto(base + "level?_refresh=1")
    # Not "networkidle": the page of a file's view always has a request held, through nginx too.
    page.wait_for_function(
        "() => { const img = document.getElementById('plot'); return !img.hidden && img.complete && img.naturalWidth > 0; }"
    )
    low = page.evaluate(SHOWN_PIXELS)
    assert low > 0
    (data_dir / "level.txt").write_text("8")
    # The taller bar shows up: the page asked for the image again, under the prefix, and swapped it.
    page.wait_for_function(f"low => ({SHOWN_PIXELS})() > low * 3", arg=low, timeout=60_000)
    image_requests = [url for url in seen if "level.png" in url]
    assert len(image_requests) >= 2, seen
    assert_under(seen, base)
    assert not page.errors


@pytest.mark.parametrize("prefix", PREFIXES)
def test_downloads_stay_under_the_prefix(nginx, page, prefix):
    base = nginx + prefix
    page.goto(base + "wave?cycles=2")
    links = page.eval_on_selector_all("a[download]", "links => links.map(a => [a.textContent, a.href])")
    assert [text for text, _ in links] == ["PNG", "SVG", "PDF", "CSV"]
    types = {**plotserve.IMAGE_FORMATS, "csv": "text/csv"}
    for text, href in links:
        assert href.startswith(base + f"wave.{text.lower()}?"), href
        status, headers, body = fetch(href)
        assert status == 200 and headers["content-type"].split(";")[0] == types[text.lower()]
        assert body.startswith({"PNG": b"\x89PNG", "SVG": b"<?xml", "PDF": b"%PDF", "CSV": b"axes,series,x,y"}[text])
    with page.expect_download() as download:
        page.click("a[download]:text('SVG')")
    assert download.value.url.startswith(base + "wave.svg?")
    assert download.value.suggested_filename == "wave.svg"
    with open(download.value.path(), "rb") as saved:
        assert b"<svg" in saved.read(2000)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    ("classic", "arrives"),
    [
        ("?mode=plotpage&graph=plot_wave&cycles=5", "wave?cycles=5"),
        ("?mode=plot&graph=plot_wave&cycles=5", "wave.png?cycles=5"),
        ("index.html?mode=paramcheck&graph=plot_bars", "bars"),
    ],
)
def test_classic_urls_redirect_under_the_prefix(nginx, page, prefix, classic, arrives):
    base = nginx + prefix
    seen = record_requests(page)
    answer = page.goto(base + classic)
    assert answer.status == 200
    assert page.url == base + arrives
    assert_under(seen, base)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_error_pages_deeper_down_link_back_under_the_prefix(nginx, page, prefix):
    base = nginx + prefix
    seen = record_requests(page)
    answer = page.goto(base + "no/such/plot")
    assert answer.status == 404
    assert page.evaluate("getComputedStyle(document.querySelector('header')).display") == "flex"
    assert page.evaluate("[...document.querySelectorAll('a')].map(a => a.href)") == [base, base + "index.json", base]
    assert_under(seen, base)


@pytest.mark.parametrize("prefix", SECURE)
def test_the_token_redirect_and_cookie_stay_under_the_prefix(nginx, page, prefix):
    base = nginx + prefix
    status, headers, _ = fetch(base + "wave?cycles=2&token=" + TOKEN)
    assert status == 303 and headers["location"] == "./wave?cycles=2"
    path = [part.strip() for part in headers["set-cookie"].split(";") if part.strip().lower().startswith("path=")]
    # With X-Forwarded-Prefix the cookie is for plotserve's prefix alone; without, the browser's
    # default (the folder of the page) is that prefix too.
    assert path == (["Path=/secure/plots"] if prefix == "/secure/plots/" else [])
    assert fetch(base + "wave")[0] == 403
    seen = record_requests(page)
    page.goto(base + "wave?cycles=2&token=" + TOKEN)
    assert page.url == base + "wave?cycles=2"
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.getElementById('plot').naturalWidth") == 800
    cookies = page.context.cookies()
    # Named for the port of the Host plotserve was asked by: the one nginx passes on.
    assert [(c["name"].rpartition("_")[0], c["path"]) for c in cookies] == [(plotserve.TOKEN_COOKIE, prefix.rstrip("/"))]
    page.click("a.brand")
    page.wait_for_load_state("networkidle")
    assert page.url == base
    assert page.eval_on_selector_all(".card img", "imgs => imgs.map(i => i.naturalWidth > 0)") == [True] * 7
    assert_under(seen, base)


def test_a_proxy_that_passes_the_browsers_host_on_is_told_what_to_allow(nginx, page):
    """jupyter-server-proxy and code-server pass the hub's host name on: without --allow-host for it
    the Host check refuses, and the page says which name to allow."""
    answer = page.goto(nginx + "/user/carol/proxy/9997/wave")
    assert answer.status == 403
    assert "--allow-host hub.example.org" in page.inner_text(".problem")
    assert page.evaluate("document.querySelector('a.brand').href") == nginx + "/user/carol/proxy/9997/"  # under the prefix still


def test_forwarded_prefix_is_only_a_cookie_path(nginx):
    """A client's own X-Forwarded-Prefix changes its cookie's path, nothing else; odd values are ignored."""
    status, headers, _ = fetch(nginx + "/user/bob/proxy/9998/?token=" + TOKEN, {"X-Forwarded-Prefix": "/mine/"})
    assert status == 303 and headers["set-cookie"].endswith("; Path=/mine")
    status, headers, _ = fetch(nginx + "/user/bob/proxy/9998/?token=" + TOKEN, {"X-Forwarded-Prefix": "/x; Domain=evil.example"})
    assert status == 303 and "Path" not in headers["set-cookie"] and "Domain" not in headers["set-cookie"]
    assert fetch(nginx + "/user/bob/proxy/9998/wave", {"X-Forwarded-Prefix": "/"})[0] == 403


def test_errors_http_server_answers_itself_link_back_from_deeper_paths():
    """A 431 (headers too large) for /a/b/c: its page's links climb back to plotserve's top."""
    with running_server(MOUNTED, workers=0) as client:
        raw = exchange(client.port, b"GET /a/b/c HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 431 ")
    assert b'href="../../-/static/plotserve.css"' in raw and b'href="../.././"' in raw and b'href="../../index.json"' in raw


@pytest.mark.parametrize(
    ("target", "status", "location"),
    [
        ("/absproxy/9999", 301, "./9999/"),
        ("/absproxy/9999?cycles=2", 301, "./9999/?cycles=2"),
        ("/absproxy/9999/", 200, None),
        ("/absproxy/9999/wave.json?cycles=2", 200, None),
        ("/wave.json?cycles=2", 200, None),  # a proxy that strips the prefix still reaches it
        ("/absproxy/99999/wave.json", 404, None),
        ("/absproxy/9999/absproxy/9999/wave.json", 404, None),
    ],
)
def test_base_url_path_is_served_for_proxies_that_keep_the_prefix(target, status, location):
    with running_server(MOUNTED, WAVES, workers=0, base_url="/absproxy/9999/") as client:
        answer = client.get(target)
    assert answer.status == status
    assert answer.headers.get("location") == location
