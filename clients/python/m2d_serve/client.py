"""Sync and async clients for m2d-server (docs/HTTP-API.md)."""
import asyncio
import time

import httpx
import numpy as np

from . import _wire
from .errors import ConnectionFailed, M2DError


class _Base:
    def __init__(self, base_url="http://127.0.0.1:8080", api_key=None, timeout=120.0, max_retries=3,
                 backoff_base=0.5, backoff_cap=30.0, sample_rate=16000):
        """`sample_rate` is the rate numpy inputs are sent at (the server resamples). 429 and 503
        answers are retried up to `max_retries` times, after the server's Retry-After (else an
        exponential backoff from `backoff_base` seconds), each wait at most `backoff_cap`."""
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout, self.max_retries = timeout, max_retries
        self.backoff_base, self.backoff_cap, self.sample_rate = backoff_base, backoff_cap, sample_rate

    def _embed_args(self, inputs, granularity, normalize, projection=None):
        if granularity not in ("clip", "frames"):
            raise ValueError("granularity is 'clip' or 'frames'")
        if projection not in (None, "clap"):
            raise ValueError("projection is None or 'clap'")
        files, single = _wire.files_of(inputs, self.sample_rate)
        data = {"granularity": granularity, "normalize": "true" if normalize else "false", "encoding_format": "base64"}
        if projection:
            data["projection"] = projection
        return files, data, single

    def _classify_args(self, inputs, head, top_k, function_to_apply):
        files, single = _wire.files_of(inputs, self.sample_rate)
        data = {k: str(v) for k, v in [("head", head), ("top_k", top_k), ("function_to_apply", function_to_apply)]
                if v is not None}
        return files, data, single

    @staticmethod
    def _text_args(texts, normalize, truncate):
        """The JSON body of /embed/text, and whether a single text (a str) was given."""
        single = isinstance(texts, str)
        body = {"inputs": [texts] if single else list(texts), "normalize": bool(normalize),
                "truncate": bool(truncate), "encoding_format": "base64"}
        return body, single

    def _zero_shot_args(self, inputs, candidate_labels, hypothesis_template, function_to_apply, top_k):
        files, single = _wire.files_of(inputs, self.sample_rate)
        data = {"candidate_labels": _wire.label_fields(candidate_labels)}
        data.update({k: str(v) for k, v in [("hypothesis_template", hypothesis_template),
                                            ("function_to_apply", function_to_apply), ("top_k", top_k)]
                     if v is not None})
        return files, data, single

    def _outcome(self, response, attempt):
        """(body, None) for a success, (None, seconds to wait) before retrying a 429 or 503; raises the
        typed error otherwise or when no retry is left."""
        try:
            return _wire.check(response.status_code, response.headers, response.text), None
        except M2DError as e:
            if e.status not in _wire.RETRYABLE or attempt == self.max_retries:
                raise
            return None, _wire.backoff(attempt, e.retry_after, self.backoff_base, self.backoff_cap)

    @staticmethod
    def _rewind(kwargs):
        for _, (_, stream, _) in kwargs.get("files", []):
            stream.seek(0)

    @staticmethod
    def _classify_result(body, single):
        lists = body if (body and isinstance(body[0], list)) else [body]
        out = [[(d["label"], d["score"]) for d in one] for one in lists]
        return out[0] if single else out

    @staticmethod
    def _text_result(body, single):
        vectors = [_wire.floats(d["embedding"]) for d in sorted(body["data"], key=lambda d: d["index"])]
        return vectors[0] if single else vectors

    @staticmethod
    def _openai_result(body):
        return np.stack([_wire.floats(d["embedding"]) for d in sorted(body["data"], key=lambda d: d["index"])])


class Client(_Base):
    """Blocking client. Use as a context manager or call close()."""

    def __init__(self, base_url="http://127.0.0.1:8080", **options):
        super().__init__(base_url, **options)
        self._http = httpx.Client(base_url=self.base_url, headers=self.headers, timeout=self.timeout)

    def close(self):
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _request(self, method, path, **kwargs):
        for attempt in range(self.max_retries + 1):
            self._rewind(kwargs)
            try:
                r = self._http.request(method, path, **kwargs)
            except httpx.HTTPError as e:
                raise ConnectionFailed(str(e)) from e
            body, wait = self._outcome(r, attempt)
            if wait is None:
                return body
            time.sleep(wait)

    def embed(self, inputs, granularity="clip", normalize=False, with_duration=False, projection=None):
        """One input (path, bytes, file object or numpy array) -> a (dim,) array, or Frames with
        granularity="frames"; a list of inputs -> a list of those. with_duration: (result, seconds).
        projection="clap": clip embeddings in the M2D-CLAP audio space (models imported from M2D-CLAP)."""
        files, data, single = self._embed_args(inputs, granularity, normalize, projection)
        body = self._request("POST", "/embed", files=files, data=data)
        return _wire.embed_result(body, granularity, single, with_duration)

    def classify(self, inputs, head=None, top_k=None, function_to_apply=None):
        """[(label, score)] best first for one input; a list of those for a list."""
        files, data, single = self._classify_args(inputs, head, top_k, function_to_apply)
        return self._classify_result(self._request("POST", "/classify", files=files, data=data), single)

    def embed_text(self, texts, normalize=False, truncate=False):
        """M2D-CLAP text embeddings (/embed/text; the model needs its text side), in the space of
        embed(..., projection="clap"). As embed: one text (a str) -> one (dim,) float32 array; a list of
        texts -> a list of those, in input order. normalize: L2-normalised by the server; truncate: cut
        texts over the encoder's 512 tokens instead of a ValidationError. An empty text is a
        ValidationError (422), an empty list EmptyInput (400), a model without a text side NotFound."""
        body, single = self._text_args(texts, normalize, truncate)
        return self._text_result(self._request("POST", "/embed/text", json=body), single)

    def zero_shot(self, inputs, candidate_labels, hypothesis_template=None, function_to_apply=None, top_k=None):
        """Zero-shot /classify (M2D-CLAP): each label put in hypothesis_template (server default
        "{} can be heard"; underscores in labels read as spaces) and scored against each input's CLAP
        audio embedding. As classify: [(label, score)] best first for one input, a list of those for a
        list of inputs. function_to_apply="none" gives the raw cosines, the default a softmax over them;
        top_k keeps the best k. candidate_labels is a list of str (a str is read as comma-separated labels).
        An empty label list is EmptyInput (400); a template without "{}" a ValidationError (422)."""
        files, data, single = self._zero_shot_args(inputs, candidate_labels, hypothesis_template,
                                                   function_to_apply, top_k)
        return self._classify_result(self._request("POST", "/classify", files=files, data=data), single)

    def embeddings(self, inputs, model=None):
        """OpenAI-shaped /v1/embeddings: an (N, dim) array for one input or a list of them."""
        files, _ = _wire.files_of(inputs, self.sample_rate)
        data = {"encoding_format": "base64", **({"model": model} if model else {})}
        return self._openai_result(self._request("POST", "/v1/embeddings", files=files, data=data))

    def info(self):
        return self._request("GET", "/info")

    def live(self):
        """True when /health/live answers 200."""
        return self._health("/health/live")

    def ready(self):
        """True when /health/ready answers 200 (the model is loaded, not draining, not stalled)."""
        return self._health("/health/ready")

    def _health(self, path):
        try:
            return self._http.get(path).status_code == 200
        except httpx.HTTPError:
            return False


class AsyncClient(_Base):
    """asyncio client with the same methods as Client, as coroutines."""

    def __init__(self, base_url="http://127.0.0.1:8080", **options):
        super().__init__(base_url, **options)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self.headers, timeout=self.timeout)

    async def aclose(self):
        await self._http.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.aclose()

    async def _request(self, method, path, **kwargs):
        for attempt in range(self.max_retries + 1):
            self._rewind(kwargs)
            try:
                r = await self._http.request(method, path, **kwargs)
            except httpx.HTTPError as e:
                raise ConnectionFailed(str(e)) from e
            body, wait = self._outcome(r, attempt)
            if wait is None:
                return body
            await asyncio.sleep(wait)

    async def embed(self, inputs, granularity="clip", normalize=False, with_duration=False, projection=None):
        files, data, single = self._embed_args(inputs, granularity, normalize, projection)
        body = await self._request("POST", "/embed", files=files, data=data)
        return _wire.embed_result(body, granularity, single, with_duration)

    async def classify(self, inputs, head=None, top_k=None, function_to_apply=None):
        files, data, single = self._classify_args(inputs, head, top_k, function_to_apply)
        return self._classify_result(await self._request("POST", "/classify", files=files, data=data), single)

    async def embed_text(self, texts, normalize=False, truncate=False):
        """As Client.embed_text: one (dim,) array for a str, a list of them for a list of texts."""
        body, single = self._text_args(texts, normalize, truncate)
        return self._text_result(await self._request("POST", "/embed/text", json=body), single)

    async def zero_shot(self, inputs, candidate_labels, hypothesis_template=None, function_to_apply=None,
                        top_k=None):
        """As Client.zero_shot: [(label, score)] best first for one input, a list of those for a list."""
        files, data, single = self._zero_shot_args(inputs, candidate_labels, hypothesis_template,
                                                   function_to_apply, top_k)
        return self._classify_result(await self._request("POST", "/classify", files=files, data=data), single)

    async def embeddings(self, inputs, model=None):
        files, _ = _wire.files_of(inputs, self.sample_rate)
        data = {"encoding_format": "base64", **({"model": model} if model else {})}
        return self._openai_result(await self._request("POST", "/v1/embeddings", files=files, data=data))

    async def info(self):
        return await self._request("GET", "/info")

    async def live(self):
        return await self._health("/health/live")

    async def ready(self):
        return await self._health("/health/ready")

    async def _health(self, path):
        try:
            return (await self._http.get(path)).status_code == 200
        except httpx.HTTPError:
            return False
