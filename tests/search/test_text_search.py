"""examples/text_search.py against a real m2d-server on the fixture M2D-CLAP model (conftest.py): FAISS's ranking
equals a brute-force numpy cosine ranking of the same embeddings (ranks only: the weights are random, so no
query means anything), a saved index loads with the same results and is rebuilt when the folder changes, and the
CLI answers its errors with a clear message and a non-zero exit."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import text_search
from conftest import BIN, CLIENT, RATE, REPO, write_wav
from m2d_serve import Client
from m2d_serve.local import LocalServer

EXAMPLE = os.path.join(REPO, "examples", "text_search.py")
DEFAULT_MODEL = os.path.join(REPO, "models", "m2d-small-debian")
QUERIES = ["dog barking", "a violin playing", "rain on a roof", "people talking"]
CLAP_DIM = 128


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": CLIENT}
    return subprocess.run([sys.executable, EXAMPLE, *args], env=env, capture_output=True, text=True, timeout=300)


def brute_force(vectors, text):
    """Cosines of each row of `vectors` with `text`, in numpy, and the row order best first."""
    cosines = (vectors @ text) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(text))
    return cosines, list(np.argsort(-cosines, kind="stable"))


def test_faiss_ranks_the_clips_as_a_numpy_brute_force_cosine_does(server, audio_folder):
    with Client(server.url) as c:
        relpaths = text_search.audio_files(audio_folder)
        assert len(relpaths) == 9 and "notes.txt" not in relpaths
        kept, vectors = text_search.embed_clips(c, audio_folder, relpaths)
        assert kept == relpaths and vectors.shape == (len(relpaths), CLAP_DIM)
        # Each row is its own file's embedding (batching kept the order).
        for rel, row in zip(relpaths, vectors):
            alone = c.embed(os.path.join(audio_folder, rel), projection="clap")
            assert np.dot(alone, row) / (np.linalg.norm(alone) * np.linalg.norm(row)) > 0.9999, rel
        index = text_search.build_index(vectors)
        paths = [os.path.join(audio_folder, rel) for rel in relpaths]
        for query in QUERIES:
            cosines, order = brute_force(vectors, c.embed_text(query))
            # Neighbouring cosines are far apart next to float32 rounding, so a rank cannot flip on it.
            assert np.min(-np.diff(cosines[order])) > 1e-5, query
            hits = text_search.search(c, index, paths, query, top=len(paths))
            assert [path for path, _ in hits] == [paths[i] for i in order], query
            assert np.allclose([score for _, score in hits], cosines[order], atol=1e-5, rtol=0), query
            assert text_search.search(c, index, paths, query, top=3) == hits[:3]
        assert len(text_search.search(c, index, paths, QUERIES[0], top=100)) == len(paths)


def test_a_saved_index_loads_with_the_same_results(server, audio_folder, tmp_path):
    index_path = str(tmp_path / "clips.faiss")
    logs = []
    with Client(server.url) as c:
        built, built_paths, was_built = text_search.load_or_build(c, audio_folder, index_path, log=logs.append)
        assert was_built and os.path.exists(index_path) and os.path.exists(index_path + ".json")
        loaded, loaded_paths, was_built_again = text_search.load_or_build(c, audio_folder, index_path,
                                                                          log=logs.append)
        assert not was_built_again and loaded_paths == built_paths and loaded.ntotal == built.ntotal == 9
        assert logs[-1].startswith("loaded ")
        for query in QUERIES:
            assert (text_search.search(c, loaded, loaded_paths, query, top=9)
                    == text_search.search(c, built, built_paths, query, top=9))


def test_a_saved_index_of_a_changed_folder_is_rebuilt(server, audio_folder, tmp_path):
    folder = tmp_path / "clips"
    shutil.copytree(audio_folder, folder)
    index_path = str(tmp_path / "clips.faiss")
    logs = []
    with Client(server.url) as c:
        text_search.load_or_build(c, str(folder), index_path, log=logs.append)
        write_wav(folder / "made" / "new_tone.wav", 0.4 * np.sin(2 * np.pi * 880 * np.arange(RATE) / RATE))
        index, paths, was_built = text_search.load_or_build(c, str(folder), index_path, log=logs.append)
    assert was_built and index.ntotal == 10 and any(p.endswith("new_tone.wav") for p in paths)
    assert any("files have changed" in line for line in logs)
    with Client(server.url) as c:
        write_wav(folder / "made" / "new_tone.wav", 0.4 * np.sin(2 * np.pi * 220 * np.arange(RATE) / RATE))
        os.utime(folder / "made" / "new_tone.wav", ns=(1, 1))  # same name and size: the time tells the change
        _, _, rebuilt_for_new_content = text_search.load_or_build(c, str(folder), index_path, log=logs.append)
        _, _, rebuilt_for_another_folder = text_search.load_or_build(c, audio_folder, index_path,
                                                                     log=logs.append)
    assert rebuilt_for_new_content and rebuilt_for_another_folder and "built from" in logs[-2]


def test_a_file_the_server_cannot_decode_is_skipped_with_a_warning(server, audio_folder, tmp_path):
    folder = tmp_path / "clips"
    shutil.copytree(audio_folder, folder)
    (folder / "made" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    warnings = []
    with Client(server.url) as c:
        kept, vectors = text_search.embed_clips(c, str(folder), text_search.audio_files(str(folder)),
                                                warn=warnings.append)
    assert len(kept) == 9 and "made/broken.wav" not in kept and vectors.shape == (9, CLAP_DIM)
    assert len(warnings) == 1 and "broken.wav" in warnings[0]


def test_the_cli_prints_the_ranked_clips_and_reuses_its_index(server, audio_folder, tmp_path):
    args = ["--server", server.url, "--folder", audio_folder, "--query", "dog barking", "--top", "3",
            "--index", str(tmp_path / "clips.faiss")]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    lines = [line.split("\t") for line in first.stdout.splitlines()]
    assert [rank for rank, _, _ in lines] == ["1", "2", "3"]
    with Client(server.url) as c:
        index, paths, _ = text_search.load_or_build(c, audio_folder, log=lambda message: None)
        expected = text_search.search(c, index, paths, "dog barking", top=3)
    assert [path for _, _, path in lines] == [path for path, _ in expected]
    assert all(abs(float(score) - s) < 1e-4 for (_, score, _), (_, s) in zip(lines, expected))
    second = run_cli(*args)
    assert second.returncode == 0 and second.stdout == first.stdout
    assert "indexed 9 clips" in first.stderr and "loaded " in second.stderr


def test_the_cli_help_names_its_options():
    r = run_cli("--help")
    assert r.returncode == 0 and all(option in r.stdout for option in ["--server", "--folder", "--query", "--top",
                                                                       "--index"])


@pytest.mark.parametrize("case", ["missing folder", "empty folder", "a file as folder", "no server"])
def test_the_cli_names_what_is_wrong_and_exits_non_zero(server, audio_folder, tmp_path, case):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("a folder with no audio in it\n")
    (tmp_path / "clip.wav").write_bytes(b"")
    folder, url, message = {
        "missing folder": (tmp_path / "nowhere", server.url, "does not exist"),
        "empty folder": (tmp_path / "empty", server.url, "no audio files"),
        "a file as folder": (tmp_path / "clip.wav", server.url, "is not a folder"),
        "no server": (audio_folder, "http://127.0.0.1:9", "cannot reach m2d-server at http://127.0.0.1:9"),
    }[case]
    r = run_cli("--server", url, "--folder", str(folder), "--query", "dog barking")
    assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stdout == ""


def test_the_cli_refuses_bad_arguments():
    assert run_cli("--server", "http://127.0.0.1:9", "--folder", ".").returncode == 2  # no --query
    r = run_cli("--server", "http://127.0.0.1:9", "--folder", ".", "--query", "x", "--top", "0")
    assert r.returncode == 2 and "must be 1 or more" in r.stderr
    r = run_cli("--server", "http://127.0.0.1:9", "--folder", ".", "--query", "  ")
    assert r.returncode == 2 and "--query is empty" in r.stderr


def test_a_model_without_clap_is_named(audio_folder):
    with LocalServer(DEFAULT_MODEL, binary=os.path.join(BIN, "m2d-server")) as plain:
        r = run_cli("--server", plain.url, "--folder", audio_folder, "--query", "dog barking")
    assert r.returncode == 1 and "no CLAP audio projection and no text side" in r.stderr, r.stderr
