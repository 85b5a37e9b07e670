"""Headless Chromium for the tests: the page as rendered (after its scripts ran) and a
screenshot. Debian's `chromium` package; `.ci/run` installs it (scripts/setup.sh).

One browser serves a whole test module (a start costs ~2.5 s): `open_browser()` drives it over the
DevTools protocol on a loopback port, each page in a tab of its own, with the virtual-time budget
that Chromium's `--virtual-time-budget` flag uses (time moves on only while no fetch is pending,
so a page's answers from its server come first)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.processes import stop
from tests.required_programs import required_program

NAMES = ("chromium", "chromium-browser", "google-chrome")
LISTENING = re.compile(r"DevTools listening on (ws://127\.0\.0\.1:\d+/\S+)")


def chromium() -> str:
    return required_program(*NAMES, package="chromium")


@contextmanager
def open_browser(timeout: float = 90) -> Iterator[Browser]:
    """A headless Chromium on a loopback DevTools port, stopped by its pid on the way out."""
    from websockets.sync.client import connect

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    process = subprocess.Popen(
        [
            chromium(),
            *("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"),
            *("--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"),
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # its singleton socket's folder too, which a stopped Chromium leaves in /tmp
        env={**os.environ, "TMPDIR": profile},
    )
    try:
        endpoint = _endpoint(process, timeout)
        with connect(endpoint, max_size=None, open_timeout=timeout) as socket:
            yield Browser(socket, timeout)
    finally:
        stop(process, signal.SIGTERM, timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def _endpoint(process: subprocess.Popen, timeout: float) -> str:
    """The browser's websocket address, from the line Chromium prints once it listens."""
    found: list[str] = []
    seen: list[str] = []

    def read() -> None:
        for line in process.stderr:
            seen.append(line)
            match = LISTENING.search(line)
            if match:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert found, f"Chromium did not listen within {timeout} s: {''.join(seen)[-2000:]}"
    # Drained from now on, so a chatty browser never blocks on a full pipe.
    threading.Thread(target=process.stderr.read, daemon=True).start()
    return found[0]


class Browser:
    """Pages of one browser, each in a tab of its own, over its DevTools connection."""

    def __init__(self, socket, timeout: float) -> None:
        self._socket = socket
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._expired: set[str] = set()  # sessions whose budget ran out while awaiting an answer

    def _next(self) -> dict:
        message = json.loads(self._socket.recv(timeout=self.timeout))
        if message.get("method") == "Emulation.virtualTimeBudgetExpired":
            self._expired.add(message["sessionId"])
        return message

    def _call(self, method: str, session: str | None = None, **params) -> dict:
        """Sends one command and returns its result."""
        ident = next(self._ids)
        message = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        while True:
            answer = self._next()
            if answer.get("id") == ident:
                assert "error" not in answer, f"{method}: {answer['error']}"
                return answer.get("result", {})

    def _budget_spent(self, session: str) -> None:
        while session not in self._expired:
            self._next()
        self._expired.discard(session)

    def _loaded(self, url: str, wait_ms: int, size: tuple[int, int]) -> tuple[str, str]:
        """A new tab of `size` showing `url` once its virtual-time budget ran out."""
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        session = self._call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        width, height = size
        self._call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self._call("Emulation.setVirtualTimePolicy", session, policy="pause")
        self._call("Page.navigate", session, url=url)
        self._call(
            "Emulation.setVirtualTimePolicy",
            session,
            policy="pauseIfNetworkFetchesPending",
            budget=wait_ms,
        )
        self._budget_spent(session)
        return target, session

    def rendered(self, url: str, wait_ms: int = 15000) -> str:
        """The page's DOM once its scripts ran."""
        target, session = self._loaded(url, wait_ms, (800, 600))
        try:
            result = self._call(
                "Runtime.evaluate",
                session,
                expression="document.documentElement.outerHTML",
                returnByValue=True,
            )
            return result["result"]["value"]
        finally:
            self._call("Target.closeTarget", targetId=target)

    def screenshot(
        self, url: str, path: Path, size: str = "1400,1000", wait_ms: int = 15000
    ) -> Path:
        width, height = (int(n) for n in size.split(","))
        target, session = self._loaded(url, wait_ms, (width, height))
        try:
            shot = self._call("Page.captureScreenshot", session, format="png")
        finally:
            self._call("Target.closeTarget", targetId=target)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


def is_blank(path: Path) -> bool:
    """Whether a screenshot shows (next to) nothing: under 8 colours, or one covering 99.5%."""
    from PIL import Image

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
        pixels = image.size[0] * image.size[1]
    return len(colours) < 8 or max(count for count, _ in colours) > 0.995 * pixels
