"""Stopping what a test started: by the process's pid, never by name."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, signal: int, timeout: float) -> None:
    """Sends `signal` to `process` unless it has ended; kills it if it outlives `timeout` s."""
    if process.poll() is None:
        process.send_signal(signal)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
