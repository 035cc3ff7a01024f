"""Batch embedding on a Ray cluster, to a Parquet dataset (path, duration_seconds, embedding).

  python examples/ray_embed.py --mode actors  --out OUT_DIR [--shards N] [--address ADDR] INPUTS...
  python examples/ray_embed.py --mode servers --servers URL[,URL...] --out OUT_DIR [...] INPUTS...

INPUTS are folders or audio files, walked in sorted order as m2d-embed walks them. The work is cut into
N shards (shard I holds every N-th input from I, as `m2d-embed --shard I/N` selects), and each finished
shard is one file OUT_DIR/shard-IIIII-of-NNNNN.parquet, written atomically: a stopped job run again
with the same arguments redoes only the shards that have no file.

  actors   one Ray actor per shard runs m2d-embed (M2D_BIN or PATH; --model) over its shard.
  servers  Ray Data's map_batches sends each shard's files through the m2d_serve client to a pool of
           m2d-server replicas (round robin per batch; 429 and 503 retried after Retry-After).

Needs ray[data] and pyarrow (scripts/tools-venv.sh installs them); `servers` also needs m2d_serve
(clients/python) importable.

A cluster started with RAY_AUTH_MODE=token (what Ray recommends) admits only drivers that hold its
token: set RAY_AUTH_TOKEN_PATH to a file holding it (or RAY_AUTH_TOKEN to the token itself), the same
one every node was started with. `ray get-auth-token` on the head prints it. Without --address a
local cluster is started, and Ray makes its token itself.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
import ray

AUDIO = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc")


def walk(inputs):
    """Files in m2d-embed's order: each argument in turn, folders recursively in sorted order."""
    out = []
    for item in inputs:
        if os.path.isdir(item):
            found = []
            for root, _, files in os.walk(item):
                found += [os.path.join(root, f) for f in files if f.lower().endswith(AUDIO)]
            out += sorted(found)
        else:
            out.append(item)
    return out


def shard_path(out, i, n):
    return os.path.join(out, f"shard-{i:05d}-of-{n:05d}.parquet")


def write_shard(rows, path):
    table = pa.table({"path": [r["path"] for r in rows],
                      "duration_seconds": pa.array([r["duration_seconds"] for r in rows], pa.float64()),
                      "embedding": pa.array([list(map(float, r["embedding"])) for r in rows],
                                            pa.list_(pa.float32()))})
    tmp = path + ".tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, path)


@ray.remote(num_cpus=1)
class EmbedActor:
    """Runs m2d-embed over one shard of the inputs."""

    def __init__(self, binary, model):
        self.binary, self.model = binary, model

    def run(self, inputs, i, n, path):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "shard.jsonl")
            cmd = [self.binary, "--model", self.model, "--shard", f"{i}/{n}", "--threads", "1", "--out", out, *inputs]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"m2d-embed failed on shard {i}/{n}: {r.stderr.strip()}")
            rows = [json.loads(line) for line in open(out)] if os.path.exists(out) else []
        write_shard([{"path": x["file"], "duration_seconds": x["duration_seconds"], "embedding": x["embedding"]}
                     for x in rows], path)
        return len(rows)


class ClientBatch:
    """map_batches callable: embeds a batch of paths through one server of the pool."""

    def __init__(self, urls):
        from m2d_serve import Client
        self.clients = [Client(u, max_retries=10) for u in urls]
        self.turn = 0

    def __call__(self, batch):
        client = self.clients[self.turn % len(self.clients)]
        self.turn += 1
        paths = list(batch["path"])
        results = client.embed(paths, with_duration=True)
        return {"path": paths, "duration_seconds": [d for _, d in results],
                "embedding": [e.tolist() for e, _ in results]}


def connect(address, parser):
    """ray.init, with the fix named when the cluster wants a token this driver does not have."""
    try:
        ray.init(address=address, log_to_driver=False)
    except ray.exceptions.AuthenticationError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        parser.exit(2, f"{parser.prog}: the Ray cluster at {address or 'localhost'} uses token authentication and "
                       f"rejected this driver ({first}). Give it the cluster's token: RAY_AUTH_TOKEN_PATH=FILE "
                       f"(a file holding the token) or RAY_AUTH_TOKEN=TOKEN; `ray get-auth-token` on the head "
                       f"node prints it.\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("inputs", nargs="+")
    p.add_argument("--mode", choices=["actors", "servers"], required=True)
    p.add_argument("--out", required=True, help="output folder (one Parquet file per shard)")
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local one)")
    p.add_argument("--model", default=os.environ.get("M2D_MODEL", "models/m2d-small-debian"))
    p.add_argument("--servers", default="", help="comma-separated m2d-server URLs (mode servers)")
    p.add_argument("--batch-size", type=int, default=8)
    a = p.parse_args(argv)
    if a.shards < 1:
        p.error("--shards must be at least 1")
    files = walk(a.inputs)
    if not files:
        p.error("no audio files in the inputs")
    os.makedirs(a.out, exist_ok=True)
    todo = [i for i in range(a.shards) if not os.path.exists(shard_path(a.out, i, a.shards))]
    print(f"{len(files)} files in {a.shards} shards; {a.shards - len(todo)} already done", file=sys.stderr)
    connect(a.address, p)
    if a.mode == "actors":
        binary = shutil.which("m2d-embed", path=os.environ.get("M2D_BIN", os.environ.get("PATH")))
        if not binary:
            p.error("m2d-embed not found: set M2D_BIN to the folder of the binaries or put it on PATH")
        # As many actors as the cluster has CPUs (each reserves one): more would wait for ever.
        slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        actors = [EmbedActor.remote(binary, os.path.abspath(a.model)) for _ in range(max(1, min(len(todo), slots)))]
        pending = [actors[k % len(actors)].run.remote(a.inputs, i, a.shards, shard_path(a.out, i, a.shards))
                   for k, i in enumerate(todo)]
        done = sum(ray.get(pending))
    else:
        urls = [u for u in a.servers.split(",") if u]
        if not urls:
            p.error("--mode servers needs --servers URL[,URL...]")
        done = 0
        for i in todo:
            shard = [f for k, f in enumerate(files) if k % a.shards == i]
            rows = []
            if shard:
                ds = ray.data.from_items([{"path": f} for f in shard]).map_batches(
                    ClientBatch, fn_constructor_args=(urls,), batch_size=a.batch_size, concurrency=len(urls))
                rows = sorted(ds.take_all(), key=lambda r: shard.index(r["path"]))
            write_shard(rows, shard_path(a.out, i, a.shards))
            done += len(rows)
    print(f"embedded {done} files into {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
