"""What the sync and async clients share: turning inputs into a request, answers into numpy, and
the retry policy (429 and 503, honouring Retry-After)."""
import base64
import io
import os
import struct
from dataclasses import dataclass

import numpy as np

from .errors import from_response

RETRYABLE = (429, 503)


@dataclass
class Frames:
    """Frame embeddings of one input: `embeddings` (T, dim) float32 and each frame's start in ms."""
    embeddings: np.ndarray
    timestamps_ms: np.ndarray
    duration_seconds: float


def wav_bytes(samples, sample_rate):
    """A float32 WAV of a numpy array: (n,) mono or (n, channels)."""
    data = np.asarray(samples, dtype="<f4")
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] == 0:
        raise ValueError("audio arrays must be (samples,) or (samples, channels) and not empty")
    channels = data.shape[1]
    payload = np.ascontiguousarray(data).tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(payload)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 3, channels, sample_rate, sample_rate * channels * 4, channels * 4, 32)
    return header + b"data" + struct.pack("<I", len(payload)) + payload


def audio_bytes(item, sample_rate):
    """(file name, bytes) of one input: a path, bytes, or a numpy array (or anything array-like)."""
    if isinstance(item, (bytes, bytearray, memoryview)):
        return "audio", bytes(item)
    if isinstance(item, (str, os.PathLike)):
        with open(item, "rb") as f:
            return os.path.basename(os.fspath(item)), f.read()
    if hasattr(item, "read"):
        return getattr(item, "name", "audio"), item.read()
    return "audio.wav", wav_bytes(np.asarray(item), sample_rate)


def files_of(inputs, sample_rate):
    """Multipart parts for one input or a list of them; and whether a single input was given."""
    single = not isinstance(inputs, (list, tuple))
    items = [inputs] if single else list(inputs)
    if not items:
        raise ValueError("no inputs")
    files = []
    for item in items:
        name, data = audio_bytes(item, sample_rate)
        files.append(("file", (name, io.BytesIO(data), "application/octet-stream")))
    return files, single


def label_fields(candidate_labels):
    """The multipart values of zero-shot's repeated `candidate_labels` field. The server reads a lone field as
    comma-separated labels (as transformers' pipeline reads a string), so: a str goes as that one field; a lone
    label holding a comma is refused here rather than silently split there; an empty list goes as one empty field,
    which the server answers with its own 400 "empty list" (as it does for JSON) instead of falling back to the
    probe heads, as it would with no field at all."""
    if isinstance(candidate_labels, str):
        return [candidate_labels]
    labels = list(candidate_labels)
    if any(not isinstance(label, str) for label in labels):
        raise TypeError("candidate_labels must be strings")
    if len(labels) == 1 and "," in labels[0]:
        raise ValueError(f"the server splits a lone candidate label at commas: {labels[0]!r}; "
                         "drop the comma or send more than one label")
    return labels or [""]


def floats(value, shape=None):
    if isinstance(value, str):
        out = np.frombuffer(base64.b64decode(value), dtype="<f4").astype(np.float32)
        return out.reshape(shape) if shape else out
    return np.asarray(value, dtype=np.float32)


def embed_result(body, granularity, single, with_duration=False):
    out = []
    for d in body["data"]:
        if granularity == "frames":
            value = Frames(floats(d["embedding"], d.get("shape")).reshape(-1, body["dim"]),
                           np.asarray(d.get("timestamps_ms", []), dtype=np.float64), d["duration_seconds"])
        else:
            value = floats(d["embedding"])
        out.append((value, d["duration_seconds"]) if with_duration else value)
    return out[0] if single else out


def check(status, headers, body_text):
    """Raises the typed exception for an error answer; returns the parsed JSON of a success."""
    import json
    try:
        body = json.loads(body_text) if body_text else None
    except ValueError:
        body = None
    if 200 <= status < 300:
        return body
    retry_after = headers.get("retry-after")
    try:
        retry_after = float(retry_after) if retry_after is not None else None
    except ValueError:
        retry_after = None
    raise from_response(status, body, retry_after)


def backoff(attempt, retry_after, base, cap):
    """Seconds to wait before retry `attempt` (0-based): the server's Retry-After when it sent one,
    else exponential from `base`; never more than `cap`."""
    wait = retry_after if retry_after is not None else base * (2 ** attempt)
    return min(max(0.0, wait), cap)
