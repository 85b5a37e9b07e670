"""Client processes of the tests' Spark Connect server, failing as soon as that server dies.

A client whose server died retries for many minutes before it gives up; these stop it at once and
fail with the end of the server's log, which says why it died."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


class ConnectServer(str):
    """The server's sc:// URL, with the pid and log of scripts/connect-server.sh's process."""

    pid: int
    log: Path

    def __new__(cls, url: str, state: Path) -> ConnectServer:
        server = super().__new__(cls, url)
        server.pid = int((state / "server.pid").read_text())
        server.log = state / "server.log"
        return server

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def obituary(self) -> str:
        tail = self.log.read_text(errors="replace")[-6000:] if self.log.exists() else "(no log)"
        return f"the Connect server {self} (pid {self.pid}) died; its log ends:\n{tail}"


def run_client(
    command: list[str], server: ConnectServer, timeout: float, **popen
) -> subprocess.CompletedProcess:
    """`command`'s completed process, like subprocess.run with captured text output; an
    AssertionError with the server's log when the server dies or the client overruns `timeout`."""
    deadline = time.monotonic() + timeout
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    ) as client:
        while True:
            try:
                out, err = client.communicate(timeout=2)
                return subprocess.CompletedProcess(command, client.returncode, out, err)
            except subprocess.TimeoutExpired:
                pass
            dead = not server.alive()
            if dead or time.monotonic() > deadline:
                client.kill()
                out, err = client.communicate()
                why = server.obituary() if dead else f"over {timeout:.0f} s"
                raise AssertionError(f"{command[:4]}: {why}\nclient stderr:\n{err[-3000:]}")
