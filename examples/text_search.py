"""Text-to-audio search over a folder of clips with M2D-CLAP and a FAISS index.

  python examples/text_search.py --server URL --folder DIR --query "dog barking" [--top N] [--index PATH]

Every audio file under DIR (recursively, in sorted order) is embedded by m2d-server in the M2D-CLAP audio
space (/embed?projection=clap, through the m2d_serve client). The vectors are L2-normalized and go into an
exact inner-product FAISS index (IndexFlatIP), where an inner product of unit vectors is their cosine. The
query's CLAP text embedding (/embed/text) is normalized the same way and the best N clips are printed, one
"rank<TAB>cosine<TAB>path" line each, best first.

--index PATH saves the index (PATH, plus the clip list in PATH.json) and later runs load it instead of
embedding the folder again; it is rebuilt when the folder, its files (names, sizes, times) or the server's model
have changed since.
Files the server cannot decode are skipped with a warning on stderr.

The server's model must be an M2D-CLAP import with its text side (m2d-train import --text-vocab, or
--text-encoder). Needs only the m2d_serve client (pip install ./clients/python), numpy and faiss-cpu.
"""
import argparse
import json
import os
import sys

import numpy as np

try:
    import faiss
except ImportError:
    sys.exit("text_search.py needs FAISS: pip install faiss-cpu")
try:
    from m2d_serve import Client, M2DError
    from m2d_serve.errors import (ConnectionFailed, EmptyInput, InvalidAudio, PayloadTooLarge, UnsupportedMediaType,
                                  ValidationError)
except ImportError:
    sys.exit("text_search.py needs the m2d_serve client: pip install ./clients/python (or PYTHONPATH=clients/python)")

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc")
# m2d-server's defaults: at most 32 inputs and 25 MiB in one request; stay well under both.
BATCH_FILES = 16
BATCH_BYTES = 16 << 20
# Errors that belong to one file rather than to the request or the server: retried file by file, then skipped.
PER_FILE_ERRORS = (InvalidAudio, UnsupportedMediaType, PayloadTooLarge, EmptyInput, ValidationError)


class SearchError(Exception):
    """A problem the user can fix (a missing folder, a model without CLAP); main prints it without a traceback."""


def audio_files(folder):
    """Paths of the audio files under `folder`, relative to it, sorted; a SearchError when there are none."""
    if not os.path.isdir(folder):
        raise SearchError(f"--folder {folder!r} is not a folder" if os.path.exists(folder)
                          else f"--folder {folder!r} does not exist")
    found = []
    for root, _, files in os.walk(folder):
        found += [os.path.relpath(os.path.join(root, f), folder) for f in files if f.lower().endswith(AUDIO_EXTENSIONS)]
    if not found:
        raise SearchError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) under {folder!r}")
    return sorted(found)


def require_clap(client):
    """The server's /info, after checking that its model has both CLAP sides."""
    info = client.info()
    missing = [name for key, name in [("audio_projection", "CLAP audio projection"), ("text_encoder", "text side")]
               if not info.get(key)]
    if missing:
        raise SearchError(f"the server's model {info.get('model_id')!r} has no {' and no '.join(missing)}; serve an "
                          "M2D-CLAP import (m2d-train import CHECKPOINT --out DIR --text-vocab VOCAB)")
    return info


def batches(folder, relpaths):
    batch, size = [], 0
    for rel in relpaths:
        file_size = os.path.getsize(os.path.join(folder, rel))
        if batch and (len(batch) == BATCH_FILES or size + file_size > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(rel)
        size += file_size
    if batch:
        yield batch


def embed_clips(client, folder, relpaths, warn=lambda message: print(message, file=sys.stderr)):
    """(the relative paths embedded, their CLAP audio embeddings (n, dim) float32, as the server sent them);
    files the server refuses are skipped through `warn`."""
    kept, vectors, last_error = [], [], None
    for batch in batches(folder, relpaths):
        full = [os.path.join(folder, rel) for rel in batch]
        try:
            vectors += client.embed(full, projection="clap")
            kept += batch
            continue
        except PER_FILE_ERRORS:
            pass  # one bad file fails its whole request: embed the batch file by file to find it
        for rel, path in zip(batch, full):
            try:
                vectors.append(client.embed(path, projection="clap"))
                kept.append(rel)
            except PER_FILE_ERRORS as e:
                warn(f"skipped {path}: {e}")
                last_error = e
    if not kept:
        raise SearchError(f"the server could not embed any of the {len(relpaths)} audio files under {folder!r} "
                          f"(the last answer: {last_error})")
    return kept, np.stack(vectors).astype(np.float32)


def unit_rows(vectors):
    """A float32 copy of `vectors` (n, dim) with each row L2-normalized (FAISS's own normalize_L2)."""
    out = np.ascontiguousarray(vectors, dtype=np.float32).copy()
    faiss.normalize_L2(out)
    return out


def build_index(vectors):
    """An exact inner-product index over the normalized vectors: its scores are cosines."""
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(unit_rows(vectors))
    return index


def save_index(index, path, meta):
    """The index at `path` and `meta` (clip list, model, folder) at path.json; each written whole, then renamed."""
    faiss.write_index(index, path + ".tmp")
    with open(path + ".json.tmp", "w") as f:
        json.dump(meta, f)
    os.replace(path + ".tmp", path)
    os.replace(path + ".json.tmp", path + ".json")


def load_index(path):
    """(index, meta) saved by save_index; a SearchError when the pair is unreadable."""
    try:
        with open(path + ".json") as f:
            meta = json.load(f)
        index = faiss.read_index(path)
    except (OSError, ValueError, RuntimeError) as e:  # FAISS raises RuntimeError for a damaged file
        raise SearchError(f"cannot load the index {path!r} (and {path + '.json'!r}): {e}; delete them to rebuild")
    if index.ntotal != len(meta.get("paths", [])):
        raise SearchError(f"the index {path!r} holds {index.ntotal} vectors but {path + '.json'!r} names "
                          f"{len(meta.get('paths', []))} clips; delete them to rebuild")
    return index, meta


def file_signatures(folder, relpaths):
    """Relative path -> [size, mtime in ns]: what tells that a clip was replaced since the index was saved."""
    out = {}
    for rel in relpaths:
        st = os.stat(os.path.join(folder, rel))
        out[rel] = [st.st_size, st.st_mtime_ns]
    return out


def stale_reason(meta, model_sha, folder, relpaths):
    """Why a saved index no longer fits the folder and the server (None when it does)."""
    if meta.get("model_sha") != model_sha:
        return "the server's model has changed"
    if meta.get("folder") != os.path.abspath(folder):
        return f"it was built from {meta.get('folder')!r}"
    if meta.get("files") != file_signatures(folder, relpaths):
        return "the folder's audio files have changed"
    return None


def load_or_build(client, folder, index_path=None, log=lambda message: print(message, file=sys.stderr)):
    """(index, paths of its clips in index order, whether it was built now): loaded from `index_path` when that
    holds an index of this folder and model, else embedded through the server (and saved there if given)."""
    relpaths = audio_files(folder)  # before the server: a wrong folder is named even when the server is down
    info = require_clap(client)
    if index_path and os.path.exists(index_path):
        index, meta = load_index(index_path)
        reason = stale_reason(meta, info.get("model_sha"), folder, relpaths)
        if reason is None:
            log(f"loaded {index_path} ({index.ntotal} clips)")
            return index, [os.path.join(folder, rel) for rel in meta["paths"]], False
        log(f"rebuilding {index_path}: {reason}")
    kept, vectors = embed_clips(client, folder, relpaths, warn=log)
    index = build_index(vectors)
    log(f"indexed {len(kept)} clips from {folder}" + (f" ({len(relpaths) - len(kept)} skipped)"
                                                      if len(kept) < len(relpaths) else ""))
    if index_path:
        save_index(index, index_path, {"model_sha": info.get("model_sha"), "model_id": info.get("model_id"),
                                       "folder": os.path.abspath(folder), "paths": kept,
                                       "files": file_signatures(folder, relpaths)})
    return index, [os.path.join(folder, rel) for rel in kept], True


def search(client, index, paths, query, top=5):
    """[(path, cosine)] of the `top` clips nearest the query's CLAP text embedding, best first."""
    text = client.embed_text(query)
    scores, ids = index.search(unit_rows(text[None, :]), min(top, index.ntotal))
    return [(paths[i], float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def parse_args(argv):
    p = argparse.ArgumentParser(description="Find the audio clips of a folder that best match a text query "
                                            "(M2D-CLAP embeddings from m2d-server, exact cosine search with FAISS).")
    p.add_argument("--server", required=True, help="m2d-server's URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--folder", required=True, help="the folder of audio files to search (walked recursively)")
    p.add_argument("--query", required=True, help='the text to search for, e.g. "dog barking"')
    p.add_argument("--top", type=positive_int, default=5, help="how many clips to print (default 5)")
    p.add_argument("--index", help="save the index here, or load it from here when it fits the folder and model")
    p.add_argument("--api-key", help="the server's --api-key, if it has one")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each request (default 120)")
    args = p.parse_args(argv)
    if not args.query.strip():
        p.error("--query is empty")  # before the folder is embedded, which may take long
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        with Client(args.server, api_key=args.api_key, timeout=args.timeout) as client:
            index, paths, _ = load_or_build(client, args.folder, args.index)
            hits = search(client, index, paths, args.query, args.top)
    except SearchError as e:
        print(f"text_search.py: error: {e}", file=sys.stderr)
        return 1
    except ConnectionFailed as e:
        print(f"text_search.py: error: cannot reach m2d-server at {args.server}: {e.message}", file=sys.stderr)
        return 1
    except M2DError as e:
        print(f"text_search.py: error: m2d-server answered {e}", file=sys.stderr)
        return 1
    for rank, (path, score) in enumerate(hits, 1):
        print(f"{rank}\t{score:.4f}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
