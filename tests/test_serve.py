"""`rag serve` as a real server: where it listens, what it says, and that it contacts nothing
outside this machine while it starts (Streamlit on its own asks checkip.amazonaws.com and
connects a socket to 8.8.8.8 to guess its addresses)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, free_port, stop_server

# Loaded by every Python process started with this folder first on PYTHONPATH: an audit hook
# that writes down each name lookup and socket connection to anything but this machine.
NETWORK_LOG = """
import os, sys

_LOG = os.environ["RAG_TEST_NETWORK_LOG"]
_LOCAL = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "::", "")

def _hook(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        host = args[1][0]
    elif event == "socket.getaddrinfo":
        host = args[0]
    else:
        return
    host = host.decode() if isinstance(host, bytes) else str(host or "")
    if host not in _LOCAL and not host.startswith("127."):
        with open(_LOG, "a") as log:
            log.write(f"{event} {host}\\n")

sys.addaudithook(_hook)
"""


def _listening_addresses(port: int) -> set[str]:
    """The addresses a TCP socket listens on for this port, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(
                    socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1])
                    if len(address) == 8
                    else address
                )
    return found


def _wait_until_healthy(port: int, server: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"rag serve exited with {server.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                if reply.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"rag serve did not answer within {seconds} s: {log.read_text()}")


@pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="reads the listening sockets from /proc/net/tcp"
)
@pytest.mark.parametrize(
    "flags, listens_on, warning",
    [
        ([], {"127.0.0.1"}, None),
        (
            ["--host", "0.0.0.0", "--read-only"],
            {"0.0.0.0"},
            "warning: listening on 0.0.0.0: anyone who can reach this machine on port {port} can ask questions, with no login",
        ),
    ],
)
def test_serve_listens_where_asked_and_contacts_nothing_outside(
    corpus_index, tmp_path, flags, listens_on, warning
):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(NETWORK_LOG)
    network_log = tmp_path / "network.log"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")},
        "PYTHONPATH": os.pathsep.join([str(hooks), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "RAG_TEST_NETWORK_LOG": str(network_log),
    }
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rag.cli",
                "serve",
                "--port",
                str(port),
                "--index-dir",
                str(corpus_index.index_dir),
                *flags,
            ],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_healthy(port, server, log)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
        time.sleep(3)  # Streamlit prints its banner (and guessed its addresses) as it starts
        assert _listening_addresses(port) == listens_on
    finally:
        stop_server(server)
    said = log.read_text()
    assert f"Serving the chat on http://{next(iter(listens_on))}:{port}" in said
    assert (warning.format(port=port) in said) if warning else "warning" not in said
    assert "External URL" not in said and "Traceback" not in said
    assert not network_log.exists(), f"contacted outside: {network_log.read_text()}"


def test_serve_on_a_busy_port_says_so_before_anything_else(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "rag.cli", "serve", "--port", str(port), "--index-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"error: port {port} on 127.0.0.1 is already in use (another rag serve?): stop it, "
        "or choose another port with --port\n"
    )
