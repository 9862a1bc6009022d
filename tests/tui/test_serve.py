"""`hvlab serve` answers HTTP, serves the app page, and runs the app behind its websocket."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request

import aiohttp
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hvlab", "serve", "--port", str(port), "--workload", "boot"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"hvlab serve exited: {proc.stderr.read()}") from None
            time.sleep(0.1)
    yield port
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_serve_answers_with_the_app_page(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server}/", timeout=10) as response:
        assert response.status == 200
        page = response.read().decode()
    assert f"ws://127.0.0.1:{server}/ws" in page
    assert "textual.js" in page  # the page that draws the terminal


async def test_the_websocket_runs_the_lab(server):
    seen = ""
    url = f"ws://127.0.0.1:{server}/ws?width=120&height=40"
    async with aiohttp.ClientSession() as client, client.ws_connect(url) as ws:
        deadline = asyncio.get_running_loop().time() + 30
        while "step -1/" not in seen and asyncio.get_running_loop().time() < deadline:
            try:
                message = await ws.receive(timeout=5)
            except TimeoutError:
                continue
            if message.type == aiohttp.WSMsgType.BINARY:
                seen += message.data.decode("utf-8", "replace")
            elif message.type == aiohttp.WSMsgType.TEXT:
                seen += message.data
            else:
                break
    # the status line of the lab, drawn by the app running behind the socket
    from hvlab.lab import Lab

    assert f"step -1/{Lab('boot').last}" in seen, seen[-500:]
