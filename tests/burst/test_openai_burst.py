"""Bursts from one address against a real m2d-server with its default flags (the hardening issue's
first row): the OpenAI Python SDK with default settings, 64 and 256 concurrent embeddings.create
calls through asyncio.gather, all succeed (a retry after a 429 counts, an APIConnectionError does
not); and 40 raw connections from one address, a request on each, all get an HTTP answer.

Run by make test with the pinned tools environment (scripts/venv.sh tools), which has the SDK."""
import asyncio
import base64
import io
import math
import os
import re
import socket
import struct
import subprocess
import threading
import wave

import openai
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("M2D_BIN", os.path.join(REPO, ".build", "debug"))
MODEL = os.path.join(REPO, "models", "m2d-small-debian")


def tone_wav(seconds=1.0, rate=16000, hz=440.0):
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / rate)))
                      for i in range(int(seconds * rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


@pytest.fixture(scope="module")
def server():
    """m2d-server with its default flags (ports aside), on 127.0.0.1."""
    p = subprocess.Popen([os.path.join(BIN, "m2d-server"), "--model", MODEL, "--host", "127.0.0.1", "--port", "0",
                          "--admin-port", "0"], stderr=subprocess.PIPE, text=True)
    port, lines = None, []
    for line in p.stderr:
        lines.append(line)
        m = re.search(r" port=(\d+)", line)
        port = port or (int(m.group(1)) if m else None)
        if "] ready" in line:
            break
    assert port, "".join(lines)
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    p.terminate()
    assert p.wait(timeout=60) == 0


async def burst(url, n, audio):
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused")  # default retries and limits
    try:
        results = await asyncio.gather(
            *(client.embeddings.create(model="m2d", input=audio) for _ in range(n)), return_exceptions=True)
    finally:
        await client.close()
    return results


@pytest.mark.parametrize("n", [64, 256])
def test_concurrent_sdk_calls_from_one_address_all_succeed(server, n):
    audio = base64.b64encode(tone_wav()).decode()
    results = asyncio.run(burst(server, n, audio))
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} of {n} failed: {sorted({type(f).__name__ + ': ' + str(f)[:120] for f in failures})}"
    dims = {len(r.data[0].embedding) for r in results}
    assert dims == {3840}


def test_forty_raw_connections_from_one_address_are_all_answered(server):
    host, port = server.removeprefix("http://").split(":")
    body = tone_wav(0.5)
    head = (f"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode()
    socks = [socket.create_connection((host, int(port)), timeout=120) for _ in range(40)]
    for s in socks:
        s.sendall(head + body)
    statuses = []
    for s in socks:
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        statuses.append(int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0)
    assert statuses == [200] * 40, statuses


def test_the_sdk_list_path_is_unchanged(server):
    """A list of base64 inputs through the SDK (which asks for base64 floats by default): one embedding
    each, in order, equal to the single calls."""
    async def go():
        client = openai.AsyncOpenAI(base_url=server + "/v1", api_key="unused")
        try:
            a, b = (base64.b64encode(tone_wav(1.0, hz=hz)).decode() for hz in (440.0, 880.0))
            listed = await client.embeddings.create(model="m2d", input=[a, b])
            single = [await client.embeddings.create(model="m2d", input=x) for x in (a, b)]
        finally:
            await client.close()
        return listed, single
    listed, single = asyncio.run(go())
    assert [d.index for d in listed.data] == [0, 1]
    for d, s in zip(listed.data, single):
        assert d.embedding == s.data[0].embedding
