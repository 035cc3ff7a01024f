"""examples/ray_embed.py on a local Ray cluster (a head and one worker node, both on 127.0.0.1):
the actors mode's Parquet equals m2d-embed's output for the same files, the servers mode's matches it
through a real m2d-server, and a stopped job redoes only its missing shards.

The cluster runs with token authentication (RAY_AUTH_MODE=token). Its token is made here, by Ray's own
`ray get-auth-token --generate` with HOME pointed at a temporary folder, and handed to every node and
driver through RAY_AUTH_TOKEN_PATH: nothing is read from or written to the user's ~/.ray."""
import json
import os
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("M2D_BIN", os.path.join(REPO, ".build", "debug"))
MODEL = os.path.join(REPO, "models", "m2d-small-debian")
AUDIO = os.path.join(REPO, "Tests", "Fixtures", "golden", "audio")
EXAMPLE = os.path.join(REPO, "examples", "ray_embed.py")
RAY = os.path.join(os.path.dirname(sys.executable), "ray")
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "M2D_BIN": BIN,
       "PYTHONPATH": os.path.join(REPO, "clients", "python")}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def auth_token(tmp_path_factory):
    """A fresh token for this module's cluster, in a file of its own."""
    home = tmp_path_factory.mktemp("ray-home")
    subprocess.run([RAY, "get-auth-token", "--generate"], env={**ENV, "HOME": str(home)}, check=True,
                   capture_output=True)
    path = home / ".ray" / "auth_token"
    assert len(path.read_text().strip()) >= 32, "ray get-auth-token --generate wrote no token"
    ENV["RAY_AUTH_TOKEN_PATH"] = str(path)
    yield path
    ENV.pop("RAY_AUTH_TOKEN_PATH", None)


@pytest.fixture(scope="module")
def cluster(auth_token):
    port = free_port()
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
    subprocess.run([RAY, "start", "--head", "--port", str(port), "--include-dashboard", "false", *common],
                   env=ENV, check=True, capture_output=True)
    try:
        subprocess.run([RAY, "start", "--address", f"127.0.0.1:{port}", *common], env=ENV, check=True,
                       capture_output=True)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=ENV, capture_output=True)


def reference():
    # One thread, as each actor runs it.
    r = subprocess.run([os.path.join(BIN, "m2d-embed"), "--model", MODEL, "--threads", "1", AUDIO],
                       capture_output=True, text=True, check=True)
    return {x["file"]: x for x in map(json.loads, r.stdout.splitlines())}


def read(out):
    rows = {}
    for f in sorted(os.listdir(out)):
        if f.endswith(".parquet"):
            for r in pq.read_table(os.path.join(out, f)).to_pylist():
                rows[r["path"]] = r
    return rows


def run(*args):
    return subprocess.run([sys.executable, EXAMPLE, *args], env=ENV, capture_output=True, text=True, timeout=600)


def test_actors_mode_equals_m2d_embed_and_resumes(cluster, tmp_path):
    out = str(tmp_path / "actors")
    r = run("--mode", "actors", "--address", cluster, "--shards", "3", "--model", MODEL, "--out", out, AUDIO)
    assert r.returncode == 0, r.stderr
    ref, got = reference(), read(out)
    assert set(got) == set(ref) and len(got) == 5
    for path, row in got.items():
        assert np.array_equal(np.asarray(row["embedding"], np.float32), np.asarray(ref[path]["embedding"], np.float32))
        assert row["duration_seconds"] == pytest.approx(ref[path]["duration_seconds"])
    # A stopped job: one shard's file is gone; only that shard is done again.
    victim = os.path.join(out, "shard-00001-of-00003.parquet")
    others = {f: os.path.getmtime(os.path.join(out, f)) for f in os.listdir(out) if f != os.path.basename(victim)}
    os.remove(victim)
    r = run("--mode", "actors", "--address", cluster, "--shards", "3", "--model", MODEL, "--out", out, AUDIO)
    assert r.returncode == 0 and "2 already done" in r.stderr, r.stderr
    assert os.path.exists(victim)
    assert all(os.path.getmtime(os.path.join(out, f)) == t for f, t in others.items())
    assert read(out).keys() == ref.keys()


def test_a_driver_without_the_token_is_told_how_to_provide_it(cluster, tmp_path):
    home = tmp_path / "empty-home"
    home.mkdir()
    env = {k: v for k, v in ENV.items() if k not in ("RAY_AUTH_TOKEN_PATH", "RAY_AUTH_TOKEN")}
    r = subprocess.run([sys.executable, EXAMPLE, "--mode", "actors", "--address", cluster, "--shards", "1",
                        "--model", MODEL, "--out", str(tmp_path / "out"), AUDIO],
                       env={**env, "HOME": str(home)}, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert "RAY_AUTH_TOKEN_PATH" in r.stderr and "ray get-auth-token" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr, r.stderr


def test_servers_mode_matches_m2d_embed(cluster, tmp_path):
    server = subprocess.Popen([os.path.join(BIN, "m2d-server"), "--model", MODEL, "--host", "127.0.0.1",
                               "--port", "0", "--no-admin-port"], stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in server.stderr:
            m = re.search(r" port=(\d+)", line)
            port = port or (int(m.group(1)) if m else None)
            if "] ready" in line:
                break
        assert port
        out = str(tmp_path / "servers")
        r = run("--mode", "servers", "--address", cluster, "--shards", "2", "--servers",
                f"http://127.0.0.1:{port}", "--batch-size", "2", "--out", out, AUDIO)
        assert r.returncode == 0, r.stderr
        ref, got = reference(), read(out)
        assert set(got) == set(ref)
        for path, row in got.items():
            # Batches of 2 through the server, one file at a time on one thread in m2d-embed: the same bits
            # (the fused encoder's results depend neither on the batch nor on the threads).
            assert np.array_equal(np.asarray(row["embedding"], np.float32), np.asarray(ref[path]["embedding"], np.float32))
    finally:
        server.terminate()
        server.wait(timeout=60)
