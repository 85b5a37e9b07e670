"""Headless Chromium for the tests: the page as rendered (after its scripts ran) and a
screenshot. Debian's `chromium` package; `.ci/run` installs it (scripts/setup.sh)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.required_programs import required_program

NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    return required_program(*NAMES, package="chromium")


def _run(args: list[str], timeout: int = 90) -> subprocess.CompletedProcess:
    base = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    done = subprocess.run(
        [*base, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def rendered(url: str, wait_ms: int = 15000) -> str:
    """The page's DOM once its scripts ran (virtual time: network answers come first)."""
    return _run([f"--virtual-time-budget={wait_ms}", "--dump-dom", url]).stdout


def screenshot(url: str, path: Path, size: str = "1400,1000", wait_ms: int = 15000) -> Path:
    _run([f"--virtual-time-budget={wait_ms}", f"--window-size={size}", f"--screenshot={path}", url])
    assert path.exists(), f"no screenshot of {url}"
    return path


def is_blank(path: Path) -> bool:
    """Whether a screenshot shows (next to) nothing: under 8 colours, or one covering 99.5%."""
    from PIL import Image

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
        pixels = image.size[0] * image.size[1]
    return len(colours) < 8 or max(count for count, _ in colours) > 0.995 * pixels
