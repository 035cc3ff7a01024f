"""Fixtures of tests/search: an M2D-CLAP model imported from the committed official-layout fixture checkpoint
(random weights, 128-d CLAP space), a real m2d-server on it (M2D_BIN: the folder of the binaries, default the
repo's .build/debug), and a folder of clips. make test runs these with the tools environment's python, which has
faiss and numpy but not the m2d_serve client: the client and examples/ are put on sys.path here."""
import glob
import os
import shutil
import subprocess
import sys
import wave

import numpy as np
import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("M2D_BIN", os.path.join(REPO, ".build", "debug"))
CLIENT = os.path.join(REPO, "clients", "python")
sys.path[:0] = [CLIENT, os.path.join(REPO, "examples")]

from m2d_serve.local import LocalServer  # noqa: E402  (after the sys.path line above)

TEXT_FIXTURES = os.path.join(REPO, "Tests", "Fixtures", "text", "official")
CHECKPOINT = os.path.join(TEXT_FIXTURES, "clap2025", "m2d_clap_vit_base-80x608p16x16p16kpBpTI-2025",
                          "checkpoint-300.pth")
GOLDEN_AUDIO = sorted(glob.glob(os.path.join(REPO, "Tests", "Fixtures", "golden", "audio", "*.wav")))
RATE = 16000


def write_wav(path, samples, rate=RATE):
    """A mono 16-bit WAV of float samples in [-1, 1] (the stdlib wave module)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32000).astype("<i2").tobytes())


def made_clips():
    """Name -> samples of a few clips unlike the golden ones and unlike each other."""
    rng = np.random.default_rng(7)
    t2, t3 = np.arange(2 * RATE) / RATE, np.arange(3 * RATE) / RATE
    clicks = np.zeros(RATE)
    clicks[::RATE // 8] = 1.0
    return {"sine_440.wav": 0.5 * np.sin(2 * np.pi * 440 * t2),
            "white_noise.wav": 0.3 * rng.standard_normal(3 * RATE),
            "sweep_100_4000.wav": 0.5 * np.sin(2 * np.pi * (100 * t3 + (3900 / 6) * t3 ** 2)),
            "clicks.wav": clicks}


@pytest.fixture(scope="session")
def clap_model(tmp_path_factory):
    model = tmp_path_factory.mktemp("clap") / "model"
    subprocess.run([os.path.join(BIN, "m2d-train"), "import", CHECKPOINT, "--out", str(model),
                    "--text-vocab", os.path.join(TEXT_FIXTURES, "vocab.txt")], check=True, capture_output=True)
    return str(model)


@pytest.fixture(scope="session")
def server(clap_model):
    s = LocalServer(clap_model, binary=os.path.join(BIN, "m2d-server"))
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="session")
def audio_folder(tmp_path_factory):
    """The golden WAVs in golden/, clips made here in made/ (the walk is recursive), and a file that is not audio."""
    folder = tmp_path_factory.mktemp("clips")
    (folder / "golden").mkdir()
    for path in GOLDEN_AUDIO:
        shutil.copy(path, folder / "golden")
    (folder / "made").mkdir()
    for name, samples in made_clips().items():
        write_wav(folder / "made" / name, samples)
    (folder / "notes.txt").write_text("not audio: the walk skips it\n")
    return str(folder)
