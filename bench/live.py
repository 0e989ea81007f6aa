"""Liveness of plotserve's pages, measured in headless Chromium on the demo's growing training log.

Run from anywhere (paths are taken from this file)::

    python bench/live.py             # 20 appends, 10 pages, a minute idle: about 5 minutes
    python bench/live.py --appends 8 --idle 30   # shorter

It starts plotserve (``plots/training.py``, two workers, default settings) on an ephemeral port of
127.0.0.1 and measures, with Chromium (``/usr/bin/chromium``, the tests' arguments):

1. change-to-screen latency: the time from an epoch appended to the log to the new picture on
   screen (the image's ``src`` swapped), p50 and p95 over the appends, for the new default page
   (a conditional GET held until the view's ETag changes) and, in the same run, for the old
   default (a conditional GET every 60 s, the page script plotserve had before: it is put on a
   page of the same origin here, since the server no longer sends it);
2. renders per change with 10 pages open on one view (``/-/health.json`` counters);
3. requests and renders per idle page per minute, for both.

Appends come at seeded random moments 3 to 6 s apart, so they fall at every phase of the old
page's 60 s period. All traffic stays on 127.0.0.1; the server is stopped on exit.
"""

import argparse
import contextlib
import http.client
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [  # as tests/conftest.py
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OLD_PERIOD = 60  # seconds: the old default _refresh
URL_PATTERN = re.compile(r"http://127\.0\.0\.1:(\d+)/")

# The old default page's refresh, as plotserve's page script did it before: a conditional GET
# every period, the new picture swapped in once loaded. Served by Chromium itself on the
# server's origin (a routed URL), so its requests are the server's like the real page's.
OLD_PAGE = """<!DOCTYPE html><html><body><img id="plot" src="training.png"><script>
const img = document.getElementById("plot");
let etag = null;
fetch("training.png", {cache: "no-store"}).then(r => { etag = r.headers.get("ETag"); });
async function refresh() {
  const response = await fetch("training.png", {headers: etag ? {"If-None-Match": etag} : {}, cache: "no-store"});
  if (response.status === 200) {
    const next = URL.createObjectURL(await response.blob());
    const probe = new Image();
    probe.onload = () => { img.src = next; };
    probe.src = next;
    etag = response.headers.get("ETag");
  }
  setTimeout(refresh, PERIOD * 1000);
}
setTimeout(refresh, PERIOD * 1000);
</script></body></html>"""

# Records the wall-clock moment (ms since the epoch, the clock Python's time.time() reads)
# of every change of the plot image's src: a new picture on screen.
RECORD_SWAPS = """() => {
  window.swaps = [];
  const img = document.getElementById("plot");
  new MutationObserver(() => window.swaps.push(Date.now())).observe(img, { attributes: true, attributeFilter: ["src"] });
}"""


def say(message: str) -> None:
    print(f"[live] {message}", file=sys.stderr, flush=True)


def training_module():
    for folder in (REPO / "plots", REPO):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import training

    return training


def start_plotserve(data_dir: Path) -> tuple[subprocess.Popen, int]:
    command = [sys.executable, str(REPO / "plotserve.py"), str(REPO / "plots" / "training.py")]
    command += ["--port", "0", "--no-browser", "--quiet", "--workers", "2", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    match = URL_PATTERN.search(line)
    if not match:
        process.kill()
        raise RuntimeError(f"plotserve printed no URL: {line!r}")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return process, int(match.group(1))


def health(port: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/-/health.json")
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def latencies(appended: list[float], swaps: list[float]) -> list[float]:
    """For each append, seconds until the first new picture on screen after it."""
    found = []
    for moment in appended:
        later = [swap / 1000 for swap in swaps if swap / 1000 > moment]
        if later:
            found.append(later[0] - moment)
    return found


def open_page(browser, url: str, old: bool = False):
    context = browser.new_context()
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url) if "training.png" in request.url else None)
    if old:
        body = OLD_PAGE.replace("PERIOD", str(OLD_PERIOD))
        page.route(f"{url}/old-default-page", lambda route: route.fulfill(status=200, content_type="text/html", body=body))
        page.goto(f"{url}/old-default-page")
    else:
        page.goto(f"{url}/training")
    page.wait_for_function(
        "() => { const img = document.getElementById('plot'); return !img.hidden && img.complete && img.naturalWidth > 0; }"
    )
    page.evaluate(RECORD_SWAPS)
    return page


def measure_latency(browser, url: str, port: int, log: Path, training, appends: int, rng: random.Random) -> dict:
    """Change-to-screen latency of the new page and the old one, open side by side."""
    new, old = open_page(browser, url), open_page(browser, url, old=True)
    render_ms = []
    new.on(
        "response",
        lambda response: (
            render_ms.append(float(response.headers.get("x-plotserve-render-ms") or "nan"))
            if response.status == 200 and "training.png" in response.url
            else None
        ),
    )
    time.sleep(1)
    appended = []
    for number in range(appends):
        time.sleep(rng.uniform(3, 6))
        training.append_epoch(log)
        appended.append(time.time())
        say(f"append {number + 1}/{appends}")
    say(f"waiting up to {OLD_PERIOD} s for the old page's next poll")
    deadline = time.time() + OLD_PERIOD + 10
    while time.time() < deadline and len(latencies(appended, old.evaluate("() => window.swaps"))) < appends:
        time.sleep(1)
    result = {}
    for name, page in (("new", new), ("old", old)):
        found = latencies(appended, page.evaluate("() => window.swaps"))
        result[name] = {"p50": percentile(found, 0.5), "p95": percentile(found, 0.95), "n": len(found)}
    result["render_ms"] = statistics.median([ms for ms in render_ms if ms == ms]) if render_ms else float("nan")
    for page in (new, old):
        page.context.close()
    return result


def measure_ten_pages(browser, url: str, port: int, log: Path, training, changes: int) -> float:
    """Renders per change with 10 pages open on /training."""
    pages = [open_page(browser, url) for _ in range(10)]
    deadline = time.time() + 30
    while health(port)["waiting"] < 10 and time.time() < deadline:
        time.sleep(0.1)
    before = health(port)
    for _ in range(changes):
        shown = [len(page.evaluate("() => window.swaps")) for page in pages]
        training.append_epoch(log)
        deadline = time.time() + 30
        while time.time() < deadline and any(
            len(page.evaluate("() => window.swaps")) <= count for page, count in zip(pages, shown, strict=True)
        ):
            time.sleep(0.05)
        time.sleep(0.5)
    after = health(port)
    for page in pages:
        page.context.close()
    return (after["renders"] - before["renders"]) / changes


def measure_idle(browser, url: str, port: int, seconds: float) -> dict:
    """Requests and renders per idle page per minute, new and old page open side by side."""
    new, old = open_page(browser, url), open_page(browser, url, old=True)
    new.wait_for_timeout(2_000)
    before = health(port)
    counts = (len(new.requests), len(old.requests))
    # Not time.sleep: Playwright's sync API records a page's requests only while it is called.
    new.wait_for_timeout(seconds * 1000)
    old.evaluate("() => 0")
    after = health(port)
    per_minute = 60 / seconds
    result = {
        "new_requests": (len(new.requests) - counts[0]) * per_minute,
        "old_requests": (len(old.requests) - counts[1]) * per_minute,
        "renders": (after["renders"] - before["renders"]) * per_minute,
    }
    for page in (new, old):
        page.context.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=20, help="appends for the latency figures (default 20)")
    parser.add_argument("--changes", type=int, default=10, help="appends with 10 pages open (default 10)")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of the idle measurement (default 60)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    training = training_module()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="plotserve-live-bench-") as folder:
        log = training.write_training_log(Path(folder) / training.LOG_NAME, rows=20)  # as the demo starts
        process, port = start_plotserve(Path(folder))
        url = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                say("latency: new and old page side by side")
                latency = measure_latency(browser, url, port, log, training, args.appends, rng)
                say("renders per change, 10 pages")
                renders = measure_ten_pages(browser, url, port, log, training, args.changes)
                say(f"idle pages, {args.idle:g} s")
                idle = measure_idle(browser, url, port, args.idle)
                browser.close()
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            if process.poll() is None:
                process.kill()
    render = latency["render_ms"] / 1000
    rows = [
        (
            "change-to-screen p50, new default (s)",
            f"{latency['new']['p50']:.2f}",
            f"<= render + 0.5 = {render + 0.5:.2f}",
            latency["new"]["p50"] <= render + 0.5,
        ),
        ("change-to-screen p95, new default (s)", f"{latency['new']['p95']:.2f}", "", None),
        ("change-to-screen p50, old 60 s polling (s)", f"{latency['old']['p50']:.2f}", "", None),
        ("change-to-screen p95, old 60 s polling (s)", f"{latency['old']['p95']:.2f}", "", None),
        ("p50 ratio old / new", f"{latency['old']['p50'] / latency['new']['p50']:.0f}x", "", None),
        ("render time, median (s)", f"{render:.2f}", "", None),
        ("renders per change, 10 pages open", f"{renders:.2f}", "<= 2", renders <= 2),
        ("requests per idle page per minute, new", f"{idle['new_requests']:.1f}", "", None),
        ("requests per idle page per minute, old", f"{idle['old_requests']:.1f}", "", None),
        ("renders per minute, two idle pages", f"{idle['renders']:.1f}", "0", idle["renders"] == 0),
    ]
    print(f"appends: {latency['new']['n']} (new), {latency['old']['n']} (old); seed {args.seed}\n")
    print("| measure | value | target | met |")
    print("| --- | --- | --- | --- |")
    for name, value, target, met in rows:
        print(f"| {name} | {value} | {target} | {'' if met is None else ('yes' if met else 'NO')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
