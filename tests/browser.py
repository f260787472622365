"""A page laid out by a real browser: headless Chromium driven over its DevTools pipe (no driver package,
no browser download; the system's ``chromium``, which ``.ci/run`` installs).

``lay_out(page, width, screenshot)`` loads an HTML file at a viewport ``width`` CSS pixels wide, measures
how wide the document and each table, figure, pre, svg and img element are laid out, and saves a full-page
PNG. It is DevTools' own protocol: JSON messages, each ended by a NUL byte, written to the browser's
fd 3 and read from its fd 4 (``--remote-debugging-pipe``).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL = (
    "apt-get install -y chromium (Debian/Ubuntu), or put a Chromium or Chrome on PATH as `chromium`"
)

# Without the background-networking flags a sandboxed CI machine's refused connections stall the start.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]

# The boxes a report lays out that can be wider than the page: each one's right edge against the viewport's
# and its parent's (a table in a scrolling div still runs past what a reader sees).
MEASURE = """(() => {
  const viewport = document.documentElement.clientWidth;
  const overflowing = [];
  for (const el of document.querySelectorAll('table, figure, pre, svg, img')) {
    const box = el.getBoundingClientRect();
    const right = Math.max(box.right, box.left + el.scrollWidth);  // a pre's text can run past its box
    const parent = el.parentElement.getBoundingClientRect().right;
    if (right > Math.min(viewport, parent) + 0.5) {
      const heading = [...document.querySelectorAll('h2')]
        .filter(h => h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING).pop();
      overflowing.push(`${el.tagName.toLowerCase()} under "${heading ? heading.textContent : '(top)'}" `
        + `ends at ${Math.round(right)} px`);
    }
  }
  return {viewport, scrollWidth: document.documentElement.scrollWidth,
          height: document.documentElement.scrollHeight, overflowing};
})()"""

TIMEOUT_SECONDS = 60.0  # a start or a load that takes longer has stalled


@dataclass
class Layout:
    viewport: int  # CSS pixels, the page's width
    scroll_width: int  # the document's laid-out width: over ``viewport`` is a horizontal scroll bar
    overflowing: list[str]  # each box past the viewport or its parent, with the section it is in


def chromium() -> str:
    """The browser's path, or a failed test that says how to install one."""
    import pytest

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(f"the report's layout test needs a headless Chromium: {INSTALL}", pytrace=False)
    return path


def above_nine(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class DevTools:
    """One browser process and the DevTools session of one page in it."""

    def __init__(self, profile: Path):
        to_browser_read, self.to_browser = os.pipe()
        self.from_browser, from_browser_write = os.pipe()
        # The browser reads fd 3 and writes fd 4: bash puts the pipes' ends there and becomes it (dash
        # takes no fd above 9). The ends are moved above 9 first, so that neither is fd 3 or 4 itself and
        # overwritten by the other's move.
        to_browser_read, from_browser_write = (
            above_nine(to_browser_read),
            above_nine(from_browser_write),
        )
        self.process = subprocess.Popen(
            [
                "/bin/bash",
                "-c",
                f'exec "$0" "$@" 3<&{to_browser_read} 4>&{from_browser_write}',
                chromium(),
                *FLAGS,
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(to_browser_read, from_browser_write),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.buffer = b""
        self.last_id = 0
        self.session: str | None = None

    def send(self, method: str, **params) -> dict:
        """Call ``method`` (on the page once attached) and return its result."""
        self.last_id += 1
        message: dict = {"id": self.last_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        reply = self.receive(lambda m: m.get("id") == self.last_id, method)
        if "error" in reply:
            raise RuntimeError(f"DevTools {method}: {reply['error']}")
        return reply["result"]

    def receive(self, wanted, what: str) -> dict:
        """The next message for which ``wanted`` holds; the others (events nobody waits for) are dropped."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                message = json.loads(raw)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError(
                    f"headless Chromium sent no answer to {what} in {TIMEOUT_SECONDS:.0f} s"
                )
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(
                    f"headless Chromium exited (code {self.process.wait()}) before {what}"
                )
            self.buffer += chunk

    def open_page(self, width: int) -> None:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.send("Page.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )

    def load(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.receive(lambda m: m.get("method") == "Page.loadEventFired", f"loading {url}")

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"in the page: {result['exceptionDetails']}")
        return result["result"]["value"]

    def close(self) -> None:
        try:
            self.session = None
            self.send("Browser.close")
            self.process.wait(timeout=TIMEOUT_SECONDS)
        except (OSError, RuntimeError, TimeoutError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self.to_browser)
            os.close(self.from_browser)


def lay_out(page: Path, width: int, screenshot: Path) -> Layout:
    """``page`` as a ``width``-pixel-wide browser lays it out, and its whole length saved as ``screenshot``."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        browser = DevTools(Path(profile))
        try:
            browser.open_page(width)
            browser.load(page.resolve().as_uri())
            measured = browser.evaluate(MEASURE)
            png = browser.send(
                "Page.captureScreenshot",
                format="png",
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": width, "height": measured["height"], "scale": 1},
            )["data"]
        finally:
            browser.close()
    screenshot.write_bytes(base64.b64decode(png))
    return Layout(measured["viewport"], measured["scrollWidth"], measured["overflowing"])
