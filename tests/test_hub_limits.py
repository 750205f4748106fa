"""The embedded hub against hostile clients: header size and time, idle bodies, connection count,
anonymous bodies, and upload URLs that never follow the Host header.

Everything is loopback, with a bounded number of raw sockets; each test takes a few seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import raw_request

from hubver.server import HubConfig, start_in_thread

TOKEN = "hv_limits_" + "1" * 24
HUBVER = Path(sys.executable).with_name("hubver")
MiB = 1 << 20


@pytest.fixture
def strict_hub(tmp_path):
    """A hub with short timeouts and a small connection cap, so the tests run in seconds."""
    running = start_in_thread(
        HubConfig(
            data_dir=tmp_path / "hub",
            admin_token=TOKEN,
            header_timeout=1.0,
            body_idle_timeout=1.0,
            keep_alive_timeout=1.0,
            max_connections=8,
        )
    )
    yield running
    running.stop()


def connect(url: str, timeout: float = 5.0) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def read_response(sock: socket.socket) -> bytes:
    """Everything the hub sends until it closes the connection (or 5 s pass)."""
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def served_quickly(url: str, token: str = TOKEN) -> float:
    started = time.monotonic()
    status, _, body = raw_request(url, "GET", "/api/whoami-v2", headers={"Authorization": f"Bearer {token}"})
    assert status == 200, (status, body)
    return time.monotonic() - started


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(b"X-Big: " + b"a" * (70 * 1024) + b"\r\n", id="one-70KiB-header"),
        pytest.param(
            b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(1000)), id="1000-small-headers"
        ),
    ],
)
def test_request_headers_over_the_limit_get_431(hub, hub_token, headers):
    with connect(hub.url) as s:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(b"GET /api/whoami-v2 HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        response = read_response(s)
    assert status_of(response) == 431, response[:300]
    assert b"The request line and headers are larger than 65536 bytes." in response
    served_quickly(hub.url, hub_token)


def test_headers_just_under_the_limit_are_served(hub):
    with connect(hub.url) as s:
        s.sendall(
            b"GET /api/whoami-v2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: "
            + b"p" * 60_000
            + b"\r\n\r\n"
        )
        response = read_response(s)
    assert status_of(response) == 401, response[:200]  # answered: only the token is missing


def test_trickled_headers_time_out_with_408(strict_hub):
    started = time.monotonic()
    with connect(strict_hub.url) as s:
        s.sendall(b"GET /api/whoami-v2 HTTP/1.1\r\n")
        response = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(50):  # a byte every 0.1 s would hold the connection for ever
                s.sendall(b"X")
                s.settimeout(0.1)
                with contextlib.suppress(TimeoutError):
                    response += s.recv(65536)
                if response:
                    break
        s.settimeout(5)
        response += read_response(s)
    took = time.monotonic() - started
    assert status_of(response) == 408, response[:200]
    assert b"did not arrive within 1 seconds" in response
    assert took < 3, took


def test_an_idle_request_body_is_cut_off(strict_hub):
    started = time.monotonic()
    with connect(strict_hub.url) as s:
        s.sendall(b"POST /api/validate-yaml HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"{" * 10)
        response = read_response(s)
    took = time.monotonic() - started
    assert response == b"" or status_of(response) >= 400, response[:200]
    assert took < 3, took
    served_quickly(strict_hub.url)


def test_connections_beyond_the_cap_get_a_clear_503(strict_hub):
    idle = [connect(strict_hub.url) for _ in range(8)]
    try:
        time.sleep(0.2)
        with connect(strict_hub.url) as s:
            response = read_response(s)
        assert status_of(response) == 503, response[:300]
        assert b"Retry-After: 1" in response
        assert b"The hub is serving its maximum of 8 connections; retry in a moment." in response
    finally:
        for s in idle:
            s.close()
    time.sleep(0.2)
    served_quickly(strict_hub.url)


def test_anonymous_request_bodies_are_small(hub, hub_token):
    status, headers, _ = raw_request(
        hub.url, "POST", "/api/validate-yaml", body=b"{" + b" " * (2 * MiB) + b"}"
    )
    assert status == 413, status
    assert headers["x-error-message"] == "The request body is larger than 1048576 bytes."


def test_upload_urls_ignore_the_host_header(hub, hub_token, api, repo_id):
    api.create_repo(repo_id)
    body = json.dumps(
        {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": "a" * 64, "size": 5}]}
    )
    status, _, data = raw_request(
        hub.url,
        "POST",
        f"/{repo_id}.git/info/lfs/objects/batch",
        body=body.encode(),
        headers={
            "Authorization": f"Bearer {hub_token}",
            "Host": "evil.example:666",
            "Content-Type": "application/json",
        },
    )
    assert status == 200, data
    href = json.loads(data)["objects"][0]["actions"]["upload"]["href"]
    assert href.startswith(hub.url + "/lfs-upload/"), href


# -- a hub process under a slowloris attack ---------------------------------------------------------


@contextlib.contextmanager
def hub_process(
    tmp_path: Path, *extra: str, nofile: int | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    import resource

    env = {**os.environ, "HUBVER_HUB_TOKEN": TOKEN}

    def limit_fds() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.Popen(
        [str(HUBVER), "hub", "serve", "--port", "0", "--data-dir", str(tmp_path / "hub"), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
        preexec_fn=limit_fds,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url, proc
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_slowloris_does_not_starve_the_hub_nor_grow_it(tmp_path):
    psutil = pytest.importorskip("psutil")
    with hub_process(tmp_path, "--public-url", "https://hub.example.org") as (url, proc):
        served_quickly(url)
        rss = psutil.Process(proc.pid)
        before = rss.memory_info().rss
        stop = threading.Event()
        attackers: list[socket.socket] = []

        def trickle(s: socket.socket) -> None:
            with contextlib.suppress(OSError):
                s.sendall(b"GET /api/whoami-v2 HTTP/1.1\r\nHost: x\r\n")
                while not stop.wait(0.3):
                    s.sendall(b"X")

        def flood(s: socket.socket) -> None:
            # A 32 MiB header, sent as fast as the hub takes it: it must be cut at 64 KiB.
            with contextlib.suppress(OSError):
                s.sendall(b"GET /api/whoami-v2 HTTP/1.1\r\nHost: x\r\nX-Big: ")
                chunk = b"z" * MiB
                for _ in range(32):
                    if stop.is_set():
                        break
                    s.sendall(chunk)

        threads = []
        for i in range(40):
            s = connect(url, timeout=10)
            attackers.append(s)
            threads.append(threading.Thread(target=flood if i < 4 else trickle, args=(s,), daemon=True))
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            worst = max(served_quickly(url) for _ in range(10))
            assert worst < 1.0, f"a legitimate request took {worst:.2f} s during the attack"
            grown = (rss.memory_info().rss - before) / MiB
            assert grown < 40, f"the hub grew by {grown:.0f} MiB under the attack"
            # The Host header never reaches the URLs the hub hands out; --public-url does.
            status, _, data = raw_request(
                url,
                "POST",
                "/api/models/tests/x/preupload/main",
                body=b"{}",
                headers={"Authorization": f"Bearer {TOKEN}", "Host": "evil.example"},
            )
            assert b"evil.example" not in data
        finally:
            stop.set()
            for s in attackers:
                s.close()
            for t in threads:
                t.join(5)
        assert proc.poll() is None  # still up


def test_serve_hands_out_upload_urls_on_the_public_url(tmp_path):
    with hub_process(tmp_path, "--public-url", "https://hub.example.org/") as (url, _):
        # Raw: huggingface_hub refuses a repo URL on another host than its endpoint.
        status, _, data = raw_request(
            url,
            "POST",
            "/api/repos/create",
            body=b'{"name": "pub", "organization": "tests"}',
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        assert status == 200 and json.loads(data)["url"] == "https://hub.example.org/tests/pub", data
        body = json.dumps(
            {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": "b" * 64, "size": 5}]}
        )
        status, _, data = raw_request(
            url,
            "POST",
            "/tests/pub.git/info/lfs/objects/batch",
            body=body.encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Host": "evil.example"},
        )
        assert status == 200, data
        href = json.loads(data)["objects"][0]["actions"]["upload"]["href"]
        assert href.startswith("https://hub.example.org/lfs-upload/"), href


def test_with_few_file_descriptors_extra_clients_get_503_not_a_reset(tmp_path):
    """With 64 descriptors, 40 idle connections used to leave the next client reset."""
    with hub_process(tmp_path, nofile=64) as (url, proc):
        served_quickly(url)
        idle = [connect(url) for _ in range(40)]
        try:
            time.sleep(0.3)
            with connect(url) as s:
                response = read_response(s)
            assert status_of(response) == 503, response[:300]
            assert b"The hub is serving its maximum of 10 connections" in response
        finally:
            for s in idle:
                s.close()
        time.sleep(0.3)
        served_quickly(url)
        assert proc.poll() is None
