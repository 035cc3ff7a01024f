"""m2d_serve: a Python client for m2d-server (M2D audio embeddings over HTTP)."""
from .client import AsyncClient, Client
from ._wire import Frames
from .errors import *  # noqa: F401,F403
from .errors import M2DError

__all__ = ["Client", "AsyncClient", "Frames", "M2DError"]
