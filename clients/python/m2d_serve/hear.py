"""The HEAR 2021 API (https://hearbenchmark.com/hear-api.html) on m2d-serve:

    from m2d_serve import hear
    model = hear.load_model("models/m2d-small-debian")      # a model directory (or an official .pth)
    scene = hear.get_scene_embeddings(audio, model)          # audio: (n_sounds, n_samples) at model.sample_rate
    frames, timestamps_ms = hear.get_timestamp_embeddings(audio, model)

The embeddings come from a real m2d-server: a local one that load_model starts (M2D_BIN, else m2d-server on
PATH) and stops at exit, or the server at M2D_URL when that is set. Inputs are torch tensors (as HEAR requires)
or numpy arrays; outputs are float32 torch tensors when torch is installed, else numpy arrays. Scene
embeddings are the clip embeddings; timestamp embeddings are the frame embeddings with the official runtime's
timestamps (step x i ms, step = duration x 1000 / frames), so every sound of a batch has the same frames."""
import os

import numpy as np

from .client import Client
from .local import LocalServer

try:
    import torch

    _Module = torch.nn.Module
except ImportError:  # the API works on numpy alone; hear-validator needs torch
    torch = None
    _Module = object

# m2d-server's default --max-client-batch-size is 32; a smaller batch keeps each request's memory small.
BATCH = 8


class M2DHearModel(_Module):
    """What load_model returns: sample_rate, scene_embedding_size, timestamp_embedding_size, and the
    client of the server behind it (a torch.nn.Module when torch is installed, as hear-validator requires)."""

    def __init__(self, client, server=None):
        if _Module is not object:
            super().__init__()
        self.client, self.server = client, server
        info = client.info()
        self.sample_rate = int(info["sample_rate"])
        self.scene_embedding_size = int(info["embedding_dim"])
        self.timestamp_embedding_size = int(info["embedding_dim"])
        self.model_id = info.get("model_id")

    def close(self):
        self.client.close()
        if self.server is not None:
            self.server.stop()
            self.server = None


def load_model(model_file_path="", **client_options):
    """A model served by m2d-server. `model_file_path`: a model directory or official .pth (required unless
    M2D_URL names a running server, whose model is then used)."""
    url = os.environ.get("M2D_URL")
    if url:
        return M2DHearModel(Client(url, **client_options))
    if not model_file_path:
        raise ValueError("load_model needs a model directory (e.g. models/m2d-small-debian), or set M2D_URL")
    if not os.path.exists(model_file_path):
        raise FileNotFoundError(f"no model at {model_file_path!r}")
    server = LocalServer(model_file_path)
    return M2DHearModel(Client(server.url, **client_options), server)


def _batch(audio, model):
    """(n_sounds, n_samples) float32 numpy from a torch tensor or an array; a clear error for other shapes."""
    if torch is not None and isinstance(audio, torch.Tensor):
        audio = audio.detach().to("cpu", torch.float32).numpy()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2 or audio.shape[0] == 0 or audio.shape[1] == 0:
        raise ValueError(f"audio must be (n_sounds, n_samples) with both > 0, got shape {audio.shape}")
    if not isinstance(model, M2DHearModel):
        raise TypeError("model must come from m2d_serve.hear.load_model")
    return audio


def _out(array):
    array = np.ascontiguousarray(array, dtype=np.float32)
    return torch.from_numpy(array) if torch is not None else array


def _embed(audio, model, granularity):
    model.client.sample_rate = model.sample_rate
    results = []
    for start in range(0, audio.shape[0], BATCH):
        results += model.client.embed([row for row in audio[start:start + BATCH]], granularity=granularity)
    return results


def get_scene_embeddings(audio, model):
    """(n_sounds, n_samples) at model.sample_rate -> (n_sounds, scene_embedding_size) float32."""
    return _out(np.stack(_embed(_batch(audio, model), model, "clip")))


def get_timestamp_embeddings(audio, model):
    """(n_sounds, n_samples) -> ((n_sounds, n_frames, timestamp_embedding_size), (n_sounds, n_frames) ms)."""
    frames = _embed(_batch(audio, model), model, "frames")
    if any(len(f.timestamps_ms) != f.embeddings.shape[0] for f in frames):
        raise ValueError("this model has flat_features (patch tokens, not time frames): it has no timestamp "
                         "embeddings; serve a model with stacked features")
    counts = {f.embeddings.shape[0] for f in frames}
    if len(counts) != 1:  # equal lengths give equal frame counts; a mismatch would be a server bug
        raise RuntimeError(f"sounds of one batch gave different frame counts: {sorted(counts)}")
    return _out(np.stack([f.embeddings for f in frames])), _out(np.stack([f.timestamps_ms for f in frames]))
