"""m2d_serve.hear without torch (numpy in, numpy out): the HEAR 2021 API's shape checks as hear-validator makes
them (sizes, float32, one row per sound, timestamps regular, in ms and inside the sound), and the values against
the official runtime's goldens. `make hear-validate` runs the real hear-validator with torch."""
import json
import os
import struct

import numpy as np
import pytest

from m2d_serve import hear

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.environ.get("M2D_BIN", os.path.join(REPO, ".build", "debug"))
GOLDEN = os.path.join(REPO, "Tests", "Fixtures", "golden")


@pytest.fixture(scope="module")
def model():
    os.environ["M2D_BIN"] = BIN
    m = hear.load_model(os.path.join(GOLDEN, "tiny_208", "model"))
    yield m
    m.close()


def safetensors(path):
    """name -> float32 array of a safetensors file (8-byte header length, JSON header, raw data)."""
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(v["shape"])
    return out


def float_wav(path):
    data = open(path, "rb").read()
    at = data.index(b"data")
    n = struct.unpack("<I", data[at + 4:at + 8])[0]
    return np.frombuffer(data[at + 8:at + 8 + n], dtype="<f4")


def test_model_attributes(model):
    assert model.sample_rate == 16000
    assert model.scene_embedding_size == model.timestamp_embedding_size == 960
    assert isinstance(model.scene_embedding_size, int) and isinstance(model.timestamp_embedding_size, int)


@pytest.mark.parametrize("length", [1.07, 1.98, 4.0])
def test_timestamp_embeddings_as_the_validator_checks_them(model, length):
    rng = np.random.default_rng(1)
    audio = (rng.random((2, int(length * model.sample_rate)), dtype=np.float32) * 2 - 1)
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, model)
    assert embeddings.dtype == np.float32 and timestamps.dtype == np.float32
    assert embeddings.ndim == 3 and embeddings.shape[0] == 2 and embeddings.shape[2] == 960
    assert timestamps.shape == embeddings.shape[:2]
    step = np.diff(timestamps, axis=1)
    assert np.all(step > 0) and np.max(np.abs(step - step.mean())) <= 1
    assert timestamps.min() >= 0 and timestamps.max() <= 1000 * length
    # Milliseconds, not seconds or frames: the official step is duration x 1000 / frames.
    assert abs(step.mean() - 1000 * length / embeddings.shape[1]) < 1e-3


def test_scene_embeddings_as_the_validator_checks_them(model):
    audio = np.random.default_rng(2).random((4, int(2.74 * 16000)), dtype=np.float32) * 2 - 1
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.dtype == np.float32 and scene.shape == (4, 960)
    frames, _ = hear.get_timestamp_embeddings(audio, model)
    np.testing.assert_allclose(scene, frames.mean(axis=1), atol=1e-5)
    # A batch larger than one request (hear.BATCH) keeps the order of the sounds.
    many = np.concatenate([audio, audio[::-1], audio])
    np.testing.assert_allclose(hear.get_scene_embeddings(many, model)[4:8], scene[::-1], atol=1e-6)


def test_values_match_the_official_runtime(model):
    expected = safetensors(os.path.join(GOLDEN, "tiny_208", "expected.safetensors"))
    wav = float_wav(os.path.join(GOLDEN, "audio", "five_sec_tone_noise.wav"))
    scene = hear.get_scene_embeddings(wav[None], model)[0]
    ref = expected["clip.five_sec_tone_noise"]
    assert np.max(np.abs(scene - ref)) <= 1e-3 * max(1.0, np.max(np.abs(ref)))
    frames, timestamps = hear.get_timestamp_embeddings(wav[None], model)
    np.testing.assert_allclose(frames[0], expected["frames.five_sec_tone_noise"], atol=1e-3)
    np.testing.assert_allclose(timestamps[0], expected["timestamps_ms.five_sec_tone_noise"], atol=1e-2)


def test_bad_input_is_a_clear_error(model):
    with pytest.raises(ValueError, match="n_sounds, n_samples"):
        hear.get_scene_embeddings(np.zeros(16000, dtype=np.float32), model)
    with pytest.raises(FileNotFoundError, match="no model"):
        hear.load_model("/nonexistent/model")
    with pytest.raises(ValueError, match="model directory"):
        hear.load_model("")
