"""embed_text and zero_shot (the M2D-CLAP text side) against a real m2d-server on 127.0.0.1, port 0 (M2D_BIN: the
folder of the binaries, default the repo's .build/debug). The model is the committed official-layout M2D-CLAP
fixture (random weights, a 128-d CLAP space) imported by m2d-train: the checks are of arithmetic and wiring, not
of meaning."""
import asyncio
import glob
import os
import subprocess

import httpx
import numpy as np
import pytest

import m2d_serve
from m2d_serve import AsyncClient, Client
from m2d_serve.local import LocalServer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.environ.get("M2D_BIN", os.path.join(REPO, ".build", "debug"))
TEXT_FIXTURES = os.path.join(REPO, "Tests", "Fixtures", "text", "official")
CHECKPOINT = os.path.join(TEXT_FIXTURES, "clap2025", "m2d_clap_vit_base-80x608p16x16p16kpBpTI-2025",
                          "checkpoint-300.pth")
VOCAB = os.path.join(TEXT_FIXTURES, "vocab.txt")
AUDIO = sorted(glob.glob(os.path.join(REPO, "Tests", "Fixtures", "golden", "audio", "*.wav")))
CLAP_DIM = 128
LABELS = ["dog barking", "rain on a roof", "a violin playing", "people talking"]
# The server computes cosines in float32 on vectors it may have embedded in another batch than ours.
COSINE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = tmp_path_factory.mktemp("clap") / "model"
    subprocess.run([os.path.join(BIN, "m2d-train"), "import", CHECKPOINT, "--out", str(model), "--text-vocab", VOCAB],
                   check=True, capture_output=True)
    s = LocalServer(str(model), binary=os.path.join(BIN, "m2d-server"))
    yield s
    assert s.stop() == 0


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def expected_cosines(client, audio, labels, template):
    """Label -> cosine of the audio's CLAP embedding and the prompt's text embedding, computed here."""
    clip = client.embed(audio, projection="clap")
    prompts = client.embed_text([template.format(label.replace("_", " ")) for label in labels])
    return {label: cosine(clip, prompt) for label, prompt in zip(labels, prompts)}


def assert_ranked_like(ranked, expected):
    """`ranked` [(label, score)] is best first and each score is `expected`'s within the tolerance."""
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True)
    assert sorted(label for label, _ in ranked) == sorted(expected)
    for label, score in ranked:
        assert abs(score - expected[label]) < COSINE_TOLERANCE, (label, score, expected[label])


def test_embed_text_gives_clap_vectors_in_input_order(server):
    with Client(server.url) as c:
        one = c.embed_text(LABELS[0])
        assert isinstance(one, np.ndarray) and one.shape == (CLAP_DIM,) and one.dtype == np.float32
        batch = c.embed_text(LABELS)
        assert isinstance(batch, list) and len(batch) == len(LABELS)
        alone = [c.embed_text(text) for text in LABELS]
        reversed_batch = c.embed_text(LABELS[::-1])[::-1]
    for i, vector in enumerate(batch):
        assert vector.shape == (CLAP_DIM,)
        assert np.allclose(vector, alone[i], atol=1e-5, rtol=0)
        assert np.allclose(vector, reversed_batch[i], atol=1e-5, rtol=0)
    # Distinct texts give distinct vectors, so the order checks above could see a swap.
    assert all(cosine(batch[i], batch[j]) < 0.999 for i in range(len(LABELS)) for j in range(i))


def test_normalize_gives_unit_vectors_of_the_same_direction(server):
    with Client(server.url) as c:
        raw = c.embed_text(LABELS)
        unit = c.embed_text(LABELS, normalize=True)
    assert any(abs(np.linalg.norm(v) - 1) > 0.01 for v in raw)  # the default is not normalized
    for r, u in zip(raw, unit):
        assert abs(np.linalg.norm(u) - 1) < 1e-5
        assert np.allclose(u, r / np.linalg.norm(r), atol=1e-6, rtol=0)


def test_the_openai_text_route_gives_the_same_vectors(server):
    with Client(server.url) as c:
        native = np.stack(c.embed_text(LABELS))
    r = httpx.post(server.url + "/v1/embeddings", json={"input": LABELS, "modality": "text"}, timeout=60)
    assert r.status_code == 200, r.text
    data = sorted(r.json()["data"], key=lambda d: d["index"])
    openai = np.asarray([d["embedding"] for d in data], dtype=np.float32)
    assert openai.shape == (len(LABELS), CLAP_DIM)
    assert np.allclose(openai, native, atol=1e-6, rtol=0)


def test_zero_shot_raw_scores_are_the_cosines_of_clap_audio_and_text(server):
    template = "the sound of {}"
    with Client(server.url) as c:
        batch = c.zero_shot(AUDIO, LABELS, hypothesis_template=template, function_to_apply="none")
        single = c.zero_shot(AUDIO[0], LABELS, hypothesis_template=template, function_to_apply="none")
        expected = [expected_cosines(c, audio, LABELS, template) for audio in AUDIO]
    assert len(batch) == len(AUDIO) and all(isinstance(ranked, list) for ranked in batch)
    for ranked, cosines in zip(batch, expected):
        assert_ranked_like(ranked, cosines)
    assert isinstance(single[0], tuple)  # one input: its list alone, as classify
    assert_ranked_like(single, expected[0])


def test_zero_shot_default_is_a_softmax_over_the_default_template(server):
    labels = ["dog_barking", "rain on a roof", "a violin playing"]  # underscores read as spaces
    with Client(server.url) as c:
        ranked = c.zero_shot(AUDIO[1], labels)
        best_two = c.zero_shot(AUDIO[1], labels, top_k=2)
        cosines = expected_cosines(c, AUDIO[1], labels, "{} can be heard")
    exps = {label: np.exp(value - max(cosines.values())) for label, value in cosines.items()}
    softmax = {label: e / sum(exps.values()) for label, e in exps.items()}
    assert_ranked_like(ranked, softmax)
    assert abs(sum(score for _, score in ranked) - 1) < 1e-5
    assert best_two == ranked[:2]


def test_errors_are_typed(server):
    with Client(server.url) as c:
        with pytest.raises(m2d_serve.ValidationError) as e:
            c.embed_text("")
        assert e.value.status == 422
        with pytest.raises(m2d_serve.EmptyInput) as e:
            c.embed_text([])
        assert e.value.status == 400
        with pytest.raises(m2d_serve.EmptyInput) as e:
            c.zero_shot(AUDIO[0], [])
        assert e.value.status == 400 and "candidate_labels" in e.value.message
        with pytest.raises(m2d_serve.ValidationError) as e:
            c.zero_shot(AUDIO[0], LABELS, hypothesis_template="no placeholder")
        assert e.value.status == 422
        with pytest.raises(m2d_serve.ValidationError):
            c.zero_shot(AUDIO[0], LABELS, function_to_apply="tanh")
        with pytest.raises(m2d_serve.InvalidAudio):
            c.zero_shot(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk", LABELS)
        with pytest.raises(ValueError, match="commas"):
            c.zero_shot(AUDIO[0], ["dog, barking"])  # the server would read two labels
        with pytest.raises(TypeError):
            c.zero_shot(AUDIO[0], ["dog", 3])


def test_async_client_matches_the_sync_one(server):
    async def main():
        async with AsyncClient(server.url) as c:
            texts, ranked = await asyncio.gather(
                c.embed_text(LABELS), c.zero_shot(AUDIO[:2], LABELS, function_to_apply="none"))
            one = await c.embed_text(LABELS[0], normalize=True)
            with pytest.raises(m2d_serve.EmptyInput):
                await c.zero_shot(AUDIO[0], [])
            with pytest.raises(m2d_serve.ValidationError):
                await c.embed_text([""])
            return texts, ranked, one
    texts, ranked, one = asyncio.run(main())
    with Client(server.url) as c:
        reference_texts = c.embed_text(LABELS)
        expected = [expected_cosines(c, audio, LABELS, "{} can be heard") for audio in AUDIO[:2]]
    assert all(np.allclose(a, b, atol=1e-5, rtol=0) for a, b in zip(texts, reference_texts))
    assert one.shape == (CLAP_DIM,) and abs(np.linalg.norm(one) - 1) < 1e-5
    for r, cosines in zip(ranked, expected):
        assert_ranked_like(r, cosines)
