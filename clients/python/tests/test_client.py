"""m2d_serve against a real m2d-server on 127.0.0.1, port 0 (M2D_BIN: the folder of the binaries,
default the repo's .build/debug; the default model, which has probe heads)."""
import asyncio
import os
import threading
import time
import wave

import numpy as np
import pytest

import m2d_serve
from m2d_serve import AsyncClient, Client
from m2d_serve.local import LocalServer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.environ.get("M2D_BIN", os.path.join(REPO, ".build", "debug"))
MODEL = os.path.join(REPO, "models", "m2d-small-debian")
TONE = os.path.join(REPO, "Tests", "Fixtures", "golden", "audio", "five_sec_tone_noise.wav")
LONG = os.path.join(REPO, "Tests", "Fixtures", "golden", "audio", "ten_sec_mod.wav")


class Server(LocalServer):
    def __init__(self, *args):
        super().__init__(MODEL, *args, binary=os.path.join(BIN, "m2d-server"))

    def stop(self):
        assert super().stop() == 0


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


def read_wav(path):
    """Mono PCM16 or float32 WAV -> (samples, rate) (the wave module reads only PCM)."""
    data = open(path, "rb").read()
    at, fmt, rate = 12, None, None
    while at + 8 <= len(data):
        tag, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        if tag == b"fmt ":
            fmt, rate = int.from_bytes(data[at + 8:at + 10], "little"), int.from_bytes(data[at + 12:at + 16], "little")
        elif tag == b"data":
            raw = data[at + 8:at + 8 + size]
            if fmt == 3:
                return np.frombuffer(raw, dtype="<f4").copy(), rate
            return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768, rate
        at += 8 + size + (size & 1)
    raise ValueError("no data chunk")


def wav16(samples, rate):
    import io
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate); w.writeframes(samples.tobytes())
    return out.getvalue()


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_paths_bytes_files_and_arrays_give_the_same_clip_embedding(server):
    with Client(server.url) as c:
        by_path = c.embed(TONE)
        assert by_path.shape == (3840,) and by_path.dtype == np.float32
        assert np.array_equal(c.embed(open(TONE, "rb").read()), by_path)
        with open(TONE, "rb") as f:
            assert np.array_equal(c.embed(f), by_path)
        samples, rate = read_wav(TONE)
        c.sample_rate = rate
        assert cosine(c.embed(samples), by_path) > 0.9999  # float32 WAV of the same 16-bit samples
        batch = c.embed([TONE, LONG])
        assert len(batch) == 2 and cosine(batch[0], by_path) > 0.99999  # one batch of two: other GEMM heights


def test_frames_normalize_and_openai_embeddings(server):
    with Client(server.url) as c:
        frames = c.embed(LONG, granularity="frames")
        assert isinstance(frames, m2d_serve.Frames)
        assert frames.embeddings.shape[1] == 3840 and frames.embeddings.shape[0] == len(frames.timestamps_ms) > 10
        assert abs(frames.duration_seconds - 10) < 0.01
        assert np.all(np.diff(frames.timestamps_ms) > 0)
        unit = c.embed(TONE, normalize=True)
        assert abs(np.linalg.norm(unit) - 1) < 1e-5
        openai = c.embeddings([TONE, LONG])
        assert openai.shape == (2, 3840)
        assert np.allclose(openai[0], c.embed(TONE), atol=1e-6)
        info = c.info()
        assert info["embedding_dim"] == 3840 and c.live() and c.ready()


def test_classify_returns_labels_best_first(server):
    with Client(server.url) as c:
        tags = c.classify(LONG, head="keywords", top_k=3)
        assert len(tags) == 3 and all(isinstance(label, str) for label, _ in tags)
        assert [s for _, s in tags] == sorted([s for _, s in tags], reverse=True)
        assert len(c.classify([TONE, LONG], head="languages")) == 2


def test_errors_are_typed(server):
    with Client(server.url) as c:
        with pytest.raises(m2d_serve.InvalidAudio) as e:
            c.embed(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
        assert e.value.status == 400
        with pytest.raises(m2d_serve.ValidationError):
            c.classify(TONE, function_to_apply="tanh")
        with pytest.raises(m2d_serve.NotFound):
            c.classify(TONE, head="no-such-head")
        with pytest.raises(m2d_serve.UnsupportedMediaType):
            c.embed(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 64)
        with pytest.raises(ValueError):
            c.embed(TONE, granularity="tokens")
        with pytest.raises(ValueError):
            c.embed(TONE, projection="text")
        with pytest.raises(m2d_serve.ValidationError, match="no audio projection"):
            c.embed(TONE, projection="clap")  # the default model is not an M2D-CLAP one
    with Client(f"http://127.0.0.1:{server.port}", api_key="wrong") as c:
        assert c.embed(TONE).shape == (3840,)  # this server has no --api-key
    with pytest.raises(m2d_serve.ConnectionFailed):
        Client("http://127.0.0.1:9", max_retries=0).info()


def test_text_methods_on_a_model_without_a_text_side_are_not_found(server):
    with Client(server.url) as c:
        with pytest.raises(m2d_serve.NotFound) as e:
            c.embed_text("dog barking")
        assert e.value.status == 404
        with pytest.raises(m2d_serve.NotFound):
            c.zero_shot(TONE, ["dog barking", "rain"])


def test_an_api_key_server_answers_unauthorized_and_accepts_the_key():
    s = Server("--api-key", "k1")
    try:
        with pytest.raises(m2d_serve.Unauthorized):
            Client(s.url).embed(TONE)
        with pytest.raises(m2d_serve.Unauthorized):
            Client(s.url).embeddings(TONE)  # the OpenAI error shape maps too
        assert Client(s.url, api_key="k1").embed(TONE).shape == (3840,)
    finally:
        s.stop()


def test_429_is_retried_after_retry_after():
    """One admission slot: while a long request holds it, a second is 429 with Retry-After: 1."""
    s = Server("--max-concurrent-requests", "1")
    try:
        noise = (np.random.default_rng(1).standard_normal(16000 * 590) * 3000).astype("<i2")
        long_wav = wav16(noise, 16000)  # 590 s, 18.9 MB: under the payload and audio limits
        holder = threading.Thread(target=lambda: Client(s.url, max_retries=0).embed(long_wav))
        holder.start()
        time.sleep(1.0)
        with pytest.raises(m2d_serve.Overloaded) as e:
            Client(s.url, max_retries=0).embed(TONE)
        assert e.value.status == 429 and e.value.retry_after == 1
        started = time.time()
        assert Client(s.url, max_retries=60, backoff_cap=2).embed(TONE).shape == (3840,)
        assert time.time() - started >= 1.0  # it waited for Retry-After before trying again
        holder.join()
    finally:
        s.stop()


def test_async_client_matches_the_sync_one(server):
    async def main():
        async with AsyncClient(server.url) as c:
            clips = await asyncio.gather(*[c.embed(TONE) for _ in range(4)])
            frames = await c.embed(LONG, granularity="frames")
            tags = await c.classify(TONE, head="keywords", top_k=2)
            ready = await c.ready()
            return clips, frames, tags, ready
    clips, frames, tags, ready = asyncio.run(main())
    with Client(server.url) as c:
        reference = c.embed(TONE)
    # Concurrent requests share batches, so products of other heights round differently: cosine, not equality.
    assert all(cosine(x, reference) > 0.99999 for x in clips)
    assert frames.embeddings.shape[1] == 3840 and len(tags) == 2 and ready


def test_backoff_policy():
    from m2d_serve._wire import backoff
    assert backoff(0, 1.0, 0.5, 30) == 1.0
    assert backoff(3, None, 0.5, 30) == 4.0
    assert backoff(10, None, 0.5, 30) == 30
    assert backoff(0, 100, 0.5, 5) == 5
