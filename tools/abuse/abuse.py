#!/usr/bin/python3
"""Abuse run: hostile clients and inputs, at full size, against the real release m2d-server.

Each attack is one row of a Markdown table printed to stdout:

    attack | expected | result (status codes seen) | time (s) | server peak RSS (MiB) | survived

Peak RSS is VmHWM of the server process, reset before each attack by writing "5" to
/proc/<pid>/clear_refs (needs root or the server's own user). "survived" means the server process
still runs and GET /health/live on the admin port answers 200 afterwards; for the SIGTERM row it
means exit code 0 and a complete HTTP response for every client; for the m2d-embed row it means
the tool exited by itself (no signal, no hang). Progress goes to stderr ("== attack N: ...").

The attacks (numbers are what --only takes):
   1  FLAC bomb: tone.flac whose STREAMINFO claims 1,048,575 Hz x 8 ch x 600 s -> 422, server
      under `prlimit --as=6GiB`
   2  four such bombs in one multipart body -> 422 (same server)
   3  FLAC claiming 384 kHz x 8 ch x 600 s -> 413 (same server)
   4  300 slow connections (complete head, then a body byte every 2 s): the admin port answers,
      another address embeds, and the server cuts every slow one within 15 s
   5  SIGTERM with 8 x 120 s requests queued and --shutdown-timeout 2: exit 0 within 7 s, every
      client a whole answer (200, or 503 naming --shutdown-timeout)
   6  30 MiB over the 25 MiB --payload-limit from urllib (20 x) and requests (10 x) -> 413
   7  16 clients post 600 s each and leave after 1 s: a 1 s request then answers 200 in < 5 s
   8  32 x 600 s in one request -> 413 naming --max-request-audio-seconds (8a); 3 x 600 s -> 200 (8b)
   9  readiness after 35 s idle: /health/ready polled every 100 ms during a 60 s request stays 200
  10  a 1 s request beside a 600 s request: latency < 3 x solo latency + 0.5 s
  11  m2d-embed on a .pth whose pickle nests 40,000 tuples: exit status 1, "nests deeper"
  12  a 400 s WAV as JSON base64 (17 MB) beside the same WAV raw: 200, peak RSS growth at most the raw
      one's plus the JSON body, time at most the raw one's plus 1 s (server under `prlimit --as=3GiB`)
  13  20 MB of JSON: "inputs" is 20M base64 'A' -> 400 in < 1 s, growth <= 1.75 x the body
  14  20 MB of JSON: "inputs": "AAAA" and 10M numbers in another key -> 400 in < 1 s, same bound
  15  8 of row 14 in parallel -> 400 or 429 within 10 s, growth < 512 MiB
  16  16 of row 14 in parallel, then a 1 s WAV: 200 within 3 s, growth < 512 MiB
  17  40 connections from one address (default flags), a request on each: 40 x 200
  18  config.json with depth 1000000, input_size [80, 2^40], norm_stats [0, 0]: m2d-embed and
      m2d-server each exit 1 naming the field (never a signal)

Usage (from anywhere; paths default to this repository's release build and model):

    python3 tools/abuse/abuse.py                 # every attack (about a minute on 2 cores)
    python3 tools/abuse/abuse.py --only 4,7      # a subset
    make abuse                                   # builds release first, then runs all

Exit status 0 only if every row met its expectation and the server survived; otherwise 1, with
the failing rows named. Needs Python 3 with `requests`, `prlimit` (util-linux), Linux /proc, and
a loopback that answers on 127.0.0.2 (Linux routes all of 127/8 to lo).
"""
import argparse
import array
import functools
import http.client
import io
import json
import math
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import wave
import zipfile
from collections import Counter

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"
FLAC = os.path.join(ROOT, "Tests/Fixtures/audio/tone.flac")
CHIRP = os.path.join(ROOT, "Tests/Fixtures/golden/audio/short_chirp.wav")
SERVERS = []  # every server started, stopped at exit


def log(message):
    print(message, file=sys.stderr, flush=True)


def counts(items):
    """['413', '413', '200'] -> '413x2 200'."""
    c = Counter(str(i) for i in items)
    return " ".join(k if n == 1 else f"{k}x{n}" for k, n in c.most_common()) or "none"


# ---------------------------------------------------------------- inputs


@functools.lru_cache(maxsize=None)
def wav(seconds, rate=16000):
    """`seconds` of 16-bit mono PCM WAV: a quiet 440 Hz sine plus a little noise (1 s tiled)."""
    rnd = random.Random(rate)
    block = array.array("h", (max(-32768, min(32767, int(3000 * math.sin(2 * math.pi * 440 * i / rate)
                                                            + rnd.gauss(0, 150)))) for i in range(rate)))
    if sys.byteorder == "big":
        block.byteswap()
    n = int(round(seconds * rate))
    pcm = block.tobytes() * (n // rate) + block[: n % rate].tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def flac_claiming(rate, channels, seconds):
    """tone.flac with STREAMINFO rewritten: 20 bits rate, 3 bits channels-1, 5 bits
    bits-per-sample-1 (kept), 36 bits total samples, big-endian, at bytes 18..25."""
    b = bytearray(open(FLAC, "rb").read())
    assert b[:4] == b"fLaC" and b[4] & 0x7F == 0, "STREAMINFO must be the first metadata block"
    bps = (b[20] & 0x01) << 4 | b[21] >> 4
    total = int(rate * seconds) & ((1 << 36) - 1)
    packed = rate << 44 | (channels - 1) << 41 | bps << 36 | total
    b[18:26] = packed.to_bytes(8, "big")
    return bytes(b)


def multipart(files):
    """files: [(filename, bytes, content type)] as repeated 'file' fields -> (content type, body)."""
    boundary = "m2d-abuse-" + "%032x" % random.getrandbits(128)
    chunks = []
    for name, data, ctype in files:
        chunks.append((f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                       f"Content-Type: {ctype}\r\n\r\n").encode())
        chunks.append(data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return "multipart/form-data; boundary=" + boundary, b"".join(chunks)


# ---------------------------------------------------------------- the server process


class Server:
    """One m2d-server process on loopback with ports picked by the kernel (parsed from its log)."""

    def __init__(self, opts, flags=(), address_space=None, label=""):
        self.label = label
        self.logfile = tempfile.NamedTemporaryFile(prefix="m2d-abuse-", suffix=".log", delete=False)
        cmd = [opts.server, "--model", opts.model, "--host", HOST, "--port", "0", "--admin-port", "0", *flags]
        if address_space:
            cmd = ["prlimit", f"--as={address_space}", *cmd]  # prlimit execs: the pid is the server's
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logfile, stderr=subprocess.STDOUT, cwd=ROOT)
        self.pid = self.proc.pid
        SERVERS.append(self)
        self.port = self.admin_port = None
        time.sleep(0.05)
        try:  # under prlimit, the pid must be the server's own once prlimit has exec'd it
            if address_space and os.path.basename(os.readlink(f"/proc/{self.pid}/exe")) == "prlimit":
                time.sleep(0.5)
        except OSError:
            pass
        deadline = time.time() + 120
        while time.time() < deadline:
            text = self.log()
            if self.port is None:
                for line in text.splitlines():
                    p, a = re.search(r" port=(\d+)", line), re.search(r"admin_port=(\d+)", line)
                    if p and a:
                        self.port, self.admin_port = int(p.group(1)), int(a.group(1))
                        break
            if self.port is not None and any(re.search(r"\bready\b", l) and "listening" not in l for l in text.splitlines()):
                self.ready_at = time.time()
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} before ready:\n{text[-2000:]}")
            time.sleep(0.05)
        else:
            raise RuntimeError(f"server not ready after 120 s:\n{self.log()[-2000:]}")
        log(f"   server pid {self.pid} port {self.port} admin {self.admin_port} ({' '.join(flags) or 'defaults'}"
            f"{', address space ' + str(address_space) if address_space else ''})")

    def log(self):
        with open(self.logfile.name, errors="replace") as f:
            return f.read()

    def url(self, path, admin=False):
        return f"http://{HOST}:{self.admin_port if admin else self.port}{path}"

    def metrics(self):
        out = {}
        for line in requests.get(self.url("/metrics", admin=True), timeout=5).text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    def reset_peak(self):
        with open(f"/proc/{self.pid}/clear_refs", "w") as f:
            f.write("5")

    def peak_mib(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def alive(self):
        return self.proc.poll() is None

    def live(self):
        try:
            return requests.get(self.url("/health/live", admin=True), timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def survived(self):
        return self.alive() and self.live()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logfile.close()


# ---------------------------------------------------------------- rows


class Row:
    def __init__(self, key, attack, expected):
        self.key, self.attack, self.expected = key, attack, expected
        self.result, self.seconds, self.rss, self.survived, self.ok = "", 0.0, "-", False, False
        self.why = ""

    def cells(self):
        return [f"{self.key}. {self.attack}", self.expected, self.result, f"{self.seconds:.2f}", self.rss,
                "yes" if self.survived else "no"]


def measured(server, row, body):
    """Runs body() -> (result text, ok, why) with the server's peak RSS reset first; fills the row."""
    server.reset_peak()
    start = time.time()
    try:
        row.result, row.ok, row.why = body()
    except Exception as e:  # a client-side error is a failed row, with the reason
        row.result, row.ok, row.why = f"client error: {type(e).__name__}", False, repr(e)[:300]
    row.seconds = time.time() - start
    peak = server.peak_mib()
    row.rss = f"{peak:.0f}" if peak is not None else "-"
    row.survived = server.survived()
    if not row.survived:
        row.why += f" server {'exited ' + str(server.proc.returncode) if not server.alive() else 'alive but /health/live not 200'};" \
                   f" log tail: {server.log()[-600:]!r}"
    return row


def post(server, body, ctype="audio/wav", timeout=120):
    return requests.post(server.url("/embed"), data=body, headers={"Content-Type": ctype}, timeout=timeout)


def expect_status(r, status, contains=None):
    """(result text, ok, why): the status with the error_type of a JSON error body, and whether
    the status is `status` and the body contains `contains`."""
    try:
        kind = r.json().get("error_type", "")
    except ValueError:
        kind = ""
    ok = r.status_code == status and (contains is None or contains in r.text)
    result = f"{r.status_code} {kind}".strip()
    if contains is not None:
        result += f" ({'names' if contains in r.text else 'does not name'} {contains})"
    return result, ok, "" if ok else f"got {r.status_code}: {r.text[:300]}"


# ---------------------------------------------------------------- attacks 1-3: bombs


def attacks_bombs(opts, only):
    rows = []
    server = Server(opts, address_space=6 << 30, label="bombs")
    try:
        bomb = flac_claiming(1_048_575, 8, 600)
        if 1 in only:
            log("== attack 1: FLAC bomb (1,048,575 Hz x 8 ch x 600 s) under a 6 GiB address space")
            rows.append(measured(server, Row("1", "FLAC bomb (1,048,575 Hz x 8 ch x 600 s, AS 6 GiB)", "422"),
                                 lambda: expect_status(post(server, bomb, "audio/flac"), 422)))
        if 2 in only:
            log("== attack 2: 4 FLAC bombs in one multipart body")
            ctype, body = multipart([(f"bomb{i}.flac", bomb, "audio/flac") for i in range(4)])
            rows.append(measured(server, Row("2", "4 FLAC bombs in one multipart body", "422"),
                                 lambda: expect_status(post(server, body, ctype), 422)))
        if 3 in only:
            log("== attack 3: FLAC claiming 384 kHz x 8 ch x 600 s")
            heavy = flac_claiming(384_000, 8, 600)
            rows.append(measured(server, Row("3", "FLAC claiming 384 kHz x 8 ch x 600 s", "413"),
                                 lambda: expect_status(post(server, heavy, "audio/flac"), 413)))
    finally:
        server.stop()
    return rows


# ---------------------------------------------------------------- attack 4: slow connections


def attack_slow(opts):
    log("== attack 4: 300 slow connections (head, then 1 body byte every 2 s)")
    row = Row("4", "300 slow connections", "health 200 < 1 s, embed 200 < 3 s, all closed < 15 s")
    server = Server(opts, label="slow")

    def body():
        head = (f"POST /embed HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: audio/wav\r\n"
                "Content-Length: 1000000\r\n\r\n").encode()
        start = time.time()
        socks, closed = {}, {}  # fd -> socket; index -> seconds after start when the server closed it
        index = {}
        for i in range(300):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect((HOST, server.port))
                s.sendall(head)
                s.setblocking(False)
                socks[s.fileno()] = s
                index[s.fileno()] = i
            except OSError:
                closed[i] = time.time() - start
                s.close()
        opened = time.time() - start
        stop = threading.Event()
        lock = threading.Lock()

        def drip():
            poller = select.poll()
            mask = select.POLLIN | select.POLLERR | select.POLLHUP | select.POLLRDHUP
            for fd in socks:
                poller.register(fd, mask)
            last = time.time()

            def gone(fd):
                poller.unregister(fd)
                with lock:
                    closed[index[fd]] = time.time() - start
                socks.pop(fd).close()

            while socks and not stop.is_set():
                for fd, _ in poller.poll(50):
                    if fd not in socks:
                        continue
                    try:
                        data = socks[fd].recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        gone(fd)
                if time.time() - last >= 2:
                    last = time.time()
                    for fd in list(socks):
                        try:
                            socks[fd].send(b"x")
                        except BlockingIOError:
                            pass
                        except OSError:
                            gone(fd)
            for s in socks.values():
                s.close()

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        time.sleep(0.2)
        t = time.time()
        try:
            health = str(requests.get(server.url("/health/live", admin=True), timeout=1).status_code)
        except requests.RequestException as e:
            health = type(e).__name__
        health_s = time.time() - t
        t = time.time()
        try:
            conn = http.client.HTTPConnection(HOST, server.port, timeout=3, source_address=("127.0.0.2", 0))
            conn.request("POST", "/embed", body=wav(1), headers={"Content-Type": "audio/wav"})
            r = conn.getresponse()
            r.read()
            embed = str(r.status)
            conn.close()
        except (OSError, http.client.HTTPException) as e:
            embed = type(e).__name__
        embed_s = time.time() - t
        dripper.join(timeout=max(0.0, 20 - (time.time() - start)))
        stop.set()
        dripper.join(timeout=5)
        with lock:
            done = dict(closed)
        refused = sum(1 for v in done.values() if v <= opened + 0.5)
        last = max(done.values()) if len(done) == 300 else None
        slow_body = server.metrics().get('m2d_connections_closed_total{reason="slow_body"}', 0)
        ok = health == "200" and health_s < 1 and embed == "200" and embed_s < 3 and last is not None and last < 15
        result = (f"health {health} in {health_s:.2f} s; embed from 127.0.0.2 {embed} in {embed_s:.2f} s; "
                  f"{refused} refused at once, {int(slow_body)} cut as slow_body; "
                  + (f"all 300 closed after {last:.1f} s" if last is not None else f"{300 - len(done)} still open after 20 s"))
        return result, ok, "" if ok else result

    try:
        return [measured(server, row, body)]
    finally:
        server.stop()


# ---------------------------------------------------------------- attack 5: SIGTERM


def attack_sigterm(opts):
    log("== attack 5: SIGTERM past --shutdown-timeout 2 with 8 x 120 s requests queued")
    row = Row("5", "SIGTERM past --shutdown-timeout 2 (8 x 120 s queued)",
              "exit 0 < 7 s, every client 200 or 503 naming --shutdown-timeout")
    timeout = 2.0
    server = Server(opts, flags=["--shutdown-timeout", str(int(timeout))], label="sigterm")
    server.reset_peak()
    start = time.time()
    clip = wav(120)
    results = [None] * 8

    def client(i):
        try:
            conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
            conn.request("POST", "/embed", body=clip, headers={"Content-Type": "audio/wav"})
            r = conn.getresponse()
            results[i] = (r.status, r.read())  # IncompleteRead if the body is cut short
            conn.close()
        except (OSError, http.client.HTTPException) as e:
            results[i] = ("error", repr(e).encode())

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    depth, peak = 0.0, None
    deadline = time.time() + 30
    while time.time() < deadline and depth < 8:
        try:
            depth = max(depth, server.metrics().get("m2d_queue_depth", 0))
        except requests.RequestException:
            pass
        peak = server.peak_mib() or peak
        time.sleep(0.05)
    peak = server.peak_mib() or peak
    signalled = time.time()
    server.proc.send_signal(signal.SIGTERM)
    try:
        code = server.proc.wait(timeout=timeout + 15)
    except subprocess.TimeoutExpired:
        code = None
    exit_s = time.time() - signalled
    for t in threads:
        t.join(timeout=30)
    if code is None:
        server.proc.kill()
        server.proc.wait()
    row.seconds = time.time() - start
    row.rss = f"{peak:.0f}" if peak else "-"
    statuses, bad = [], []
    for i, r in enumerate(results):
        if r is None:
            statuses.append("none")
            bad.append(f"client {i}: no answer")
            continue
        status, text = r
        statuses.append(str(status))
        if status == 200:
            continue
        if status == 503 and b"--shutdown-timeout" in text:
            continue
        bad.append(f"client {i}: {status} {text[:200]!r}")
    text = server.log()
    suspended = "suspended connections" in text
    row.survived = code == 0 and not any(s in ("none", "error") for s in statuses)
    row.ok = depth >= 8 and code == 0 and exit_s <= timeout + 5 and not bad and not suspended
    row.result = (f"queue depth {depth:.0f}; clients {counts(statuses)}; exit {code} after {exit_s:.1f} s"
                  + ("; log has 'suspended connections'" if suspended else ""))
    if not row.ok:
        row.why = row.result + ("; " + "; ".join(bad) if bad else "") + f"; log tail: {text[-800:]!r}"
    server.logfile.close()
    return [row]


# ---------------------------------------------------------------- attack 6: early 413 to urllib/requests


def attack_payload(opts):
    log("== attack 6: urllib (20 x) and requests (10 x) POST 30 MiB over the 25 MiB payload limit")
    row = Row("6", "urllib / requests POST 30 MiB over --payload-limit", "413 x 20 (urllib), 413 x 10 (requests)")
    server = Server(opts, label="payload")

    def body():
        data = b"\0" * (30 << 20)
        seen_urllib, seen_requests = [], []
        for _ in range(20):
            req = urllib.request.Request(server.url("/embed"), data=data, method="POST", headers={"Content-Type": "audio/wav"})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    seen_urllib.append(r.status)
            except urllib.error.HTTPError as e:
                seen_urllib.append(e.code)
                e.close()
            except Exception as e:  # URLError, BrokenPipeError, ConnectionResetError: the 413 was lost
                seen_urllib.append(type(e).__name__)
        for _ in range(10):
            try:
                seen_requests.append(post(server, data, timeout=60).status_code)
            except requests.RequestException as e:
                seen_requests.append(type(e).__name__)
        ok = seen_urllib == [413] * 20 and seen_requests == [413] * 10
        result = f"urllib {counts(seen_urllib)}; requests {counts(seen_requests)}"
        return result, ok, "" if ok else result

    try:
        return [measured(server, row, body)]
    finally:
        server.stop()


# ---------------------------------------------------------------- attack 7: departed clients


def attack_departed(opts):
    log("== attack 7: 16 clients post 600 s each and leave after 1 s; then a 1 s request")
    row = Row("7", "16 departed clients (600 s each, gone after 1 s)", "then 1 s WAV 200 in < 5 s")
    server = Server(opts, label="departed")

    def body():
        long = wav(600)
        request = (f"POST /embed HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: audio/wav\r\n"
                   f"Content-Length: {len(long)}\r\n\r\n").encode() + long
        sent = [False] * 16

        def client(i):
            s = socket.create_connection((HOST, server.port), timeout=2)
            began = time.time()
            s.settimeout(1.0)
            try:
                s.sendall(request)
                sent[i] = True
            except OSError:
                pass
            time.sleep(max(0.0, 1.0 - (time.time() - began)))
            s.close()  # like curl -m 1: gone without reading the answer

        threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t = time.time()
        r = post(server, wav(1), timeout=60)
        took = time.time() - t
        time.sleep(0.5)
        m = server.metrics()
        requests_gone = m.get("m2d_cancelled_requests_total", 0)
        chunks_gone = m.get("m2d_cancelled_chunks_total", 0)
        ok = r.status_code == 200 and took < 5
        result = (f"{sum(sent)}/16 bodies sent in 1 s; 1 s WAV {r.status_code} in {took:.2f} s; "
                  f"cancelled requests {requests_gone:.0f}, chunks {chunks_gone:.0f}")
        return result, ok, "" if ok else result + f"; body {r.text[:200]}"

    try:
        return [measured(server, row, body)]
    finally:
        server.stop()


# ---------------------------------------------------------------- attack 8: request audio bound


def attack_request_audio(opts, only_keys):
    server = Server(opts, flags=["--payload-limit", "700000000", "--max-inflight-upload-mb", "1024"], label="request-audio")
    rows = []
    try:
        clip = wav(600, rate=8000)
        log("== attack 8a: 32 x 600 s (8 kHz WAV, 307 MB) in one multipart request")
        ctype, body = multipart([(f"long{i}.wav", clip, "audio/wav") for i in range(32)])
        rows.append(measured(server, Row("8a", "32 x 600 s in one request (307 MB)", "413 naming --max-request-audio-seconds"),
                             lambda: expect_status(post(server, body, ctype, timeout=300), 413, "--max-request-audio-seconds")))
        del body
        log("== attack 8b: 3 x 600 s (1800 s, the per-request limit) in one request")
        ctype, body = multipart([(f"long{i}.wav", clip, "audio/wav") for i in range(3)])

        def three():
            r = post(server, body, ctype, timeout=300)
            n = len(r.json().get("data", [])) if r.status_code == 200 else 0
            ok = r.status_code == 200 and n == 3
            return f"{r.status_code} ({n} embeddings)", ok, "" if ok else f"got {r.status_code}: {r.text[:300]}"

        rows.append(measured(server, Row("8b", "3 x 600 s (1800 s) in one request", "200, peak RSS reported"), three))
    finally:
        server.stop()
    return rows


# ---------------------------------------------------------------- attack 9: readiness after idleness


def attack_idle_ready(opts, server):
    idle = 35
    wait = max(0.0, idle - (time.time() - server.ready_at))
    log(f"== attack 9: readiness after {idle} s idle (server idle since start-up; waiting {wait:.0f} s more)")
    row = Row("9", f"readiness after {idle} s idle (--stall-timeout 30)", "every /health/ready poll 200")
    time.sleep(wait)

    def body():
        outcome = {}

        def run():
            try:
                outcome["status"] = post(server, wav(60), timeout=120).status_code
            except requests.RequestException as e:
                outcome["status"] = type(e).__name__

        t = threading.Thread(target=run)
        t.start()
        polls = []
        while True:
            try:
                polls.append(requests.get(server.url("/health/ready", admin=True), timeout=2).status_code)
            except requests.RequestException as e:
                polls.append(type(e).__name__)
            if not t.is_alive():
                break
            time.sleep(0.1)
        t.join()
        ok = outcome.get("status") == 200 and all(p == 200 for p in polls) and len(polls) > 1
        result = f"{len(polls)} polls: {counts(polls)}; 60 s WAV {outcome.get('status')}"
        return result, ok, "" if ok else result

    try:
        return [measured(server, row, body)]
    finally:
        server.stop()


# ---------------------------------------------------------------- attack 10: fairness


def attack_fairness(opts):
    log("== attack 10: a 1 s request alone, then beside a 600 s request")
    row = Row("10", "1 s request beside a 600 s request", "beside < 3 x solo + 2 x --max-batch-ms (1 s)")
    server = Server(opts, label="fairness")

    def timed_short():
        t = time.time()
        r = post(server, wav(1), timeout=120)
        return r, time.time() - t

    def body():
        timed_short()  # the first request warms caches
        solos = [timed_short() for _ in range(3)]
        solo = sorted(s for _, s in solos)[1]
        outcome = {}

        def run():
            t = time.time()
            outcome["status"] = post(server, wav(600), timeout=300).status_code
            outcome["seconds"] = time.time() - t

        long = threading.Thread(target=run)
        long.start()
        pending, deadline = 0.0, time.time() + 30
        while pending <= 0 and time.time() < deadline and long.is_alive():
            pending = server.metrics().get("m2d_pending_chunks", 0)
            if pending <= 0:
                time.sleep(0.02)
        r, beside = timed_short()
        long.join()
        m = server.metrics()
        batches = m.get("m2d_inference_duration_seconds_count", 0)
        mean_batch = m.get("m2d_inference_duration_seconds_sum", 0) / batches if batches else 0
        mean_chunks = m.get("m2d_batch_chunks_sum", 0) / batches if batches else 0
        split = (f"queue {float(r.headers.get('x-queue-time', 'nan')) / 1000:.2f} s + inference "
                 f"{float(r.headers.get('x-inference-time', 'nan')) / 1000:.2f} s")
        # A batch cannot be interrupted: the request waits for the one running, then rides in the next.
        limit = 3 * solo + 2.0
        ok = (r.status_code == 200 and all(x.status_code == 200 for x, _ in solos) and beside < limit and pending > 0
              and outcome.get("status") == 200)
        result = (f"solo {counts(x.status_code for x, _ in solos)} {solo:.3f} s; beside {r.status_code} {beside:.2f} s "
                  f"({split}; limit {limit:.2f} s); 600 s {outcome.get('status')} in {outcome.get('seconds', 0):.1f} s; "
                  f"batches {mean_chunks:.0f} chunks / {mean_batch:.2f} s on average")
        return result, ok, "" if ok else result

    try:
        return [measured(server, row, body)]
    finally:
        server.stop()


# ---------------------------------------------------------------- attack 11: hostile checkpoint


def attack_pth(opts):
    log("== attack 11: m2d-embed on a .pth whose pickle nests 40,000 tuples")
    row = Row("11", "hostile .pth (40,000 nested tuples) to m2d-embed", "exit 1, stderr 'nests deeper'")
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="m2d-abuse-") as tmp:
        folder = os.path.join(tmp, "m2d_vit_base-80x608p16x16-evil")
        os.makedirs(folder)
        pth = os.path.join(folder, "checkpoint-300.pth")
        with zipfile.ZipFile(pth, "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", b"\x80\x02" + b")" + b"\x85" * 40000 + b".")
        try:
            p = subprocess.run([opts.embed, "--model", pth, CHIRP], capture_output=True, timeout=120, cwd=ROOT)
            code, err = p.returncode, p.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired:
            code, err = None, "(timed out after 120 s)"
    row.seconds = time.time() - start
    row.survived = code is not None and code >= 0
    nests = "nests deeper" in err
    if code is None:
        row.result = "hung (killed after 120 s)"
    elif code < 0:
        row.result = f"killed by {signal.Signals(-code).name}"
    else:
        row.result = f"exit {code}" + ("; 'nests deeper' in stderr" if nests else "; no 'nests deeper' in stderr")
    row.ok = code == 1 and nests
    if not row.ok:
        row.why = f"{row.result}; stderr: {err[-400:]!r}"
    return [row]


# ---------------------------------------------------------------- attacks 12-17: JSON bodies, bursts, model directories


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def grown(server, send):
    """(result of send(), seconds, peak RSS growth in MiB) with VmHWM reset first."""
    server.reset_peak()
    base, start = rss_mib(server.pid), time.time()
    out = send()
    return out, time.time() - start, (server.peak_mib() or 0) - base


def number_array_body():
    return b'{"inputs": "AAAA", "x": [' + b"1," * 9_999_999 + b"1]}"


def attacks_json(opts, only):
    """12-15: the JSON path costs its bytes plus its audio, and parses in well under a second."""
    import base64
    rows = []
    server = Server(opts, address_space=3 << 30, label="json")
    try:
        def row(key, attack, expected, body):
            r = Row(key, attack, expected)
            rows.append(measured(server, r, body))

        if 12 in only:
            log("== attack 12: a 400 s WAV as JSON base64 beside the same WAV raw")
            raw = wav(400)
            body = b'{"inputs": "' + base64.b64encode(raw) + b'"}'

            def twelve():
                (a, ta, ga) = grown(server, lambda: post(server, raw))
                (b, tb, gb) = grown(server, lambda: post(server, body, "application/json"))
                bound = ga + len(body) / 2**20 + 16
                ok = a.status_code == b.status_code == 200 and gb <= bound and tb <= ta + 1
                text = (f"raw {a.status_code} {ta:.1f} s +{ga:.0f} MiB; JSON ({len(body) / 1e6:.0f} MB) {b.status_code} "
                        f"{tb:.1f} s +{gb:.0f} MiB (bound {bound:.0f})")
                return text, ok, "" if ok else text
            row("12", "400 s WAV as JSON base64 (17 MB) vs raw", "200, growth <= raw + body", twelve)
        for key, name, make in ((13, "20 MB JSON: base64 'A' x 20M", lambda: b'{"inputs": "' + b"A" * 20_000_000 + b'"}'),
                                (14, "20 MB JSON: 10M numbers beside the input", number_array_body)):
            if key not in only:
                continue
            log(f"== attack {key}: {name}")
            body = make()

            def one(body=body):
                r, t, g = grown(server, lambda: post(server, body, "application/json"))
                bound = 1.75 * len(body) / 2**20 + 16
                ok = r.status_code == 400 and t < 1 and g <= bound
                text = f"{r.status_code} in {t:.2f} s, +{g:.0f} MiB (bound {bound:.0f})"
                return text, ok, "" if ok else text
            row(str(key), name, "400 < 1 s, growth <= 1.75 x body", one)
        if 15 in only:
            log("== attack 15: 8 x 20 MB number-array bodies in parallel")
            body = number_array_body()

            def fifteen():
                out = {}

                def send(i):
                    out[i] = post(server, body, "application/json").status_code
                threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
                (_, t, g) = grown(server, lambda: ([x.start() for x in threads], [x.join(60) for x in threads]))
                ok = len(out) == 8 and all(c in (400, 429) for c in out.values()) and t < 10 and g < 512
                text = f"{counts(out.values())} in {t:.1f} s, +{g:.0f} MiB"
                return text, ok, "" if ok else text
            row("15", "8 x 20 MB JSON (10M numbers) in parallel", "400/429 within 10 s, growth < 512 MiB", fifteen)
        if 16 in only:
            log("== attack 16: 16 x 20 MB JSON bodies, then a 1 s WAV")
            body = number_array_body()

            def sixteen():
                out = {}

                def send(i):
                    out[i] = post(server, body, "application/json").status_code
                threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
                server.reset_peak()
                base = rss_mib(server.pid)
                for x in threads:
                    x.start()
                time.sleep(0.3)
                t0 = time.time()
                small = post(server, wav(1))
                t = time.time() - t0
                for x in threads:
                    x.join(60)
                g = (server.peak_mib() or 0) - base
                ok = small.status_code == 200 and t < 3 and g < 512 and all(c in (400, 429) for c in out.values())
                text = f"1 s WAV {small.status_code} in {t:.2f} s beside {counts(out.values())}; +{g:.0f} MiB"
                return text, ok, "" if ok else text
            row("16", "16 x 20 MB JSON, then a 1 s WAV", "WAV 200 < 3 s, growth < 512 MiB", sixteen)
    finally:
        server.stop()
    return rows


def attack_text(opts):
    """19: the M2D-CLAP text side at the default limits: bodies built to cost more than their bytes are refused
    fast, with growth bounded by the body (a model imported from the official-layout fixture)."""
    import copy
    import json
    rows = []
    model = tempfile.mkdtemp(prefix="m2d-abuse-clap-")
    fixture = os.path.join(ROOT, "Tests/Fixtures/text/official")
    subprocess.run([opts.train, "import",
                    os.path.join(fixture, "clap2025/m2d_clap_vit_base-80x608p16x16p16kpBpTI-2025/checkpoint-300.pth"),
                    "--out", model, "--text-vocab", os.path.join(fixture, "vocab.txt")],
                   check=True, stdout=subprocess.DEVNULL)
    text_opts = copy.copy(opts)
    text_opts.model = model
    server = Server(text_opts, address_space=3 << 30, label="text")

    def send(path, body, ctype):
        return requests.post(server.url(path), data=body, headers={"Content-Type": ctype}, timeout=60)

    def case(key, attack, expected, path, body, ctype, status, contains):
        def run():
            r, t, g = grown(server, lambda: send(path, body, ctype))
            bound = 1.75 * len(body) / 2**20 + 16
            result, ok, why = expect_status(r, status, contains)
            ok = ok and t < 2 and g <= bound
            text = f"{result} in {t:.2f} s, +{g:.0f} MiB (bound {bound:.0f})"
            return text, ok, "" if ok else f"{text}; {why}"
        rows.append(measured(server, Row(key, attack, expected), run))

    try:
        wav_b64 = __import__("base64").b64encode(wav(1)).decode()
        labels = ["x" * 16000] * 1024
        template = "{}" * 512
        log("== attack 19: text bombs")
        case("19a", "template of 512 {} x 1,024 labels of 16 KB (16 MB)", "422 before any prompt is built",
             "/classify", json.dumps({"inputs": wav_b64, "candidate_labels": labels,
                                      "hypothesis_template": template}).encode(),
             "application/json", 422, "once")
        case("19b", "1,024 texts of 16 KB (16 MB) to /embed/text", "413 naming --max-request-tokens",
             "/embed/text", json.dumps({"inputs": labels}).encode(), "application/json", 413, "--max-request-tokens")
        part = b"--m2dabuseboundary\r\nContent-Disposition: form-data; name="
        commas = (part + b"\"candidate_labels\"\r\n\r\n" + b"," * 20_000_000 + b"\r\n"
                  + part + b"\"file\"; filename=\"a.wav\"\r\n\r\n" + wav(1) + b"\r\n--m2dabuseboundary--\r\n")
        case("19c", "one form field of 20M commas as candidate_labels", "413 naming --max-texts",
             "/classify", commas, "multipart/form-data; boundary=m2dabuseboundary", 413, "--max-texts")
        escaped = json.dumps({"inputs": ["\u00e9" * 16384] * 64}, ensure_ascii=True).encode()
        case("19d", "64 texts of 16,384 escaped characters (6 MB of \\u00e9)", "413 naming --max-text-bytes",
             "/embed/text", escaped, "application/json", 413, "--max-text-bytes")
    finally:
        server.stop()
        shutil.rmtree(model, ignore_errors=True)
    return rows


def attack_burst(opts):
    """17: 40 connections from one address, a request on each: every one answered (default flags)."""
    log("== attack 17: 40 connections from one address, a request on each")
    server = Server(opts, label="burst")
    body = wav(1)
    head = (f"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode()

    def seventeen():
        socks = [socket.create_connection((HOST, server.port), timeout=120) for _ in range(40)]
        for s in socks:
            s.sendall(head + body)
        statuses = []
        for s in socks:
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
            statuses.append(data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "no answer")
        ok = statuses == ["200"] * 40
        return counts(statuses), ok, "" if ok else counts(statuses)
    try:
        return [measured(server, Row("17", "40 connections from one address, a request on each", "40 x 200"),
                         seventeen)]
    finally:
        server.stop()


def attack_model_dirs(opts):
    """18: damaged config.json files: every tool exits 1 naming the field, never a signal."""
    log("== attack 18: damaged model directories to m2d-embed and m2d-server")
    row = Row("18", "config.json: depth 1e6, input_size [80, 2^40], norm_stats [0, 0]", "exit 1 naming the field")
    start, seen, ok = time.time(), [], True
    edits = [("depth", 1_000_000, "depth is 1000000"), ("input_size", [80, 1 << 40], "input_size[1] is"),
             ("norm_stats", [0, 0], "norm_stats")]
    with tempfile.TemporaryDirectory(prefix="m2d-abuse-") as tmp:
        for field, value, named in edits:
            folder = os.path.join(tmp, field)
            os.makedirs(folder)
            config = json.load(open(os.path.join(opts.model, "config.json")))
            config[field] = value
            json.dump(config, open(os.path.join(folder, "config.json"), "w"))
            os.symlink(os.path.join(opts.model, "model.safetensors"), os.path.join(folder, "model.safetensors"))
            for tool in (opts.embed, opts.server):
                args = [tool, "--model", folder] + ([CHIRP] if tool == opts.embed else ["--port", "0", "--admin-port", "0"])
                try:
                    p = subprocess.run(["prlimit", f"--as={3 << 30}", *args], capture_output=True, timeout=120)
                    code, err = p.returncode, p.stderr.decode(errors="replace")
                except subprocess.TimeoutExpired:
                    code, err = None, "(timed out)"
                good = code == 1 and named in err
                ok = ok and good
                seen.append(f"{os.path.basename(tool)} {field}: {'exit ' + str(code) if code is not None else 'hung'}"
                            f"{'' if good else ' (field not named)'}")
    row.seconds, row.survived, row.ok = time.time() - start, True, ok
    row.result = "; ".join(seen)
    row.why = "" if ok else row.result
    return [row]


# ---------------------------------------------------------------- main


def table(rows):
    header = ["attack", "expected", "result (status codes seen)", "time (s)", "server peak RSS (MiB)", "survived"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in r.cells()) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(
        description="Run hostile clients and inputs at full size against the release m2d-server and print a Markdown "
                    "table (attack | expected | result | time | server peak RSS | survived). Exit 0 only if every row "
                    "met its expectation and the server survived.",
        epilog="Attacks: 1 FLAC bomb, 2 four bombs in one body, 3 FLAC 384 kHz x 8 ch x 600 s, 4 300 slow connections, "
               "5 SIGTERM past --shutdown-timeout, 6 urllib/requests over --payload-limit, 7 16 departed clients, "
               "8 32 x 600 s and 3 x 600 s in one request, 9 readiness after 35 s idle, 10 1 s request beside a 600 s "
               "one, 11 hostile .pth to m2d-embed, 12-16 JSON bodies (memory, time, a WAV beside 16 of them), 17 40 "
               "connections from one address, 18 damaged config.json to m2d-embed and m2d-server, 19 text bombs on an M2D-CLAP "
               "model (template, 16 MB of texts, 20M commas, escaped characters). Run as root (resetting VmHWM needs /proc/PID/clear_refs).")
    parser.add_argument("--server", default=os.path.join(ROOT, ".build/release/m2d-server"),
                        help="m2d-server binary (default: %(default)s)")
    parser.add_argument("--embed", default=os.path.join(ROOT, ".build/release/m2d-embed"),
                        help="m2d-embed binary (default: %(default)s)")
    parser.add_argument("--train", default=os.path.join(ROOT, ".build/release/m2d-train"),
                        help="m2d-train binary, to import the M2D-CLAP fixture of attack 19 (default: %(default)s)")
    parser.add_argument("--model", default=os.path.join(ROOT, "models/m2d-small-debian"),
                        help="model directory to serve (default: %(default)s)")
    parser.add_argument("--only", metavar="N[,M]", help="run only these attacks, e.g. --only 4,7 (default: all 1-19)")
    opts = parser.parse_args()
    for name in ("server", "embed", "model", "train"):
        setattr(opts, name, os.path.abspath(getattr(opts, name)))
    only = set(range(1, 20))
    if opts.only:
        try:
            only = {int(x) for x in opts.only.split(",") if x.strip()}
        except ValueError:
            parser.error("--only takes attack numbers separated by commas, e.g. --only 4,7")
        if not only <= set(range(1, 20)):
            parser.error("attack numbers are 1 to 19")
    need_server = only - {11, 18}
    if need_server and not os.access(opts.server, os.X_OK):
        parser.error(f"no server binary at {opts.server} (build it: swift build -c release --product m2d-server)")
    if only & {11, 18} and not os.access(opts.embed, os.X_OK):
        parser.error(f"no m2d-embed binary at {opts.embed} (build it: swift build -c release --product m2d-embed)")
    if 19 in only and not os.access(opts.train, os.X_OK):
        parser.error(f"no m2d-train binary at {opts.train} (build it: swift build -c release --product m2d-train)")
    if need_server and not os.path.isdir(opts.model):
        parser.error(f"no model directory at {opts.model}")

    started = time.time()
    rows = []
    try:
        # Attack 9's server starts first and stays idle while the other attacks run.
        idle_server = None
        if 9 in only:
            log("== starting the idle server for attack 9")
            try:
                idle_server = Server(opts, label="idle")
            except Exception as e:
                log(f"   could not start it: {e}")
        groups = [({1, 2, 3}, lambda: attacks_bombs(opts, only)), ({4}, lambda: attack_slow(opts)),
                  ({5}, lambda: attack_sigterm(opts)), ({6}, lambda: attack_payload(opts)),
                  ({7}, lambda: attack_departed(opts)), ({8}, lambda: attack_request_audio(opts, only)),
                  ({9}, lambda: attack_idle_ready(opts, idle_server)), ({10}, lambda: attack_fairness(opts)),
                  ({11}, lambda: attack_pth(opts)), ({12, 13, 14, 15, 16}, lambda: attacks_json(opts, only)),
                  ({17}, lambda: attack_burst(opts)), ({18}, lambda: attack_model_dirs(opts)),
                  ({19}, lambda: attack_text(opts))]
        for keys, run in groups:
            if not keys & only:
                continue
            try:
                rows += run()
            except Exception as e:  # e.g. a server that never became ready: the group's rows fail
                for key in sorted(keys & only):
                    row = Row(str(key), "attack", "-")
                    row.result, row.why = f"setup error: {type(e).__name__}", repr(e)[:1500]
                    rows.append(row)
    finally:
        for s in SERVERS:
            try:
                s.stop()
            except Exception:
                pass
    total = time.time() - started
    print(table(rows))
    print()
    failed = [r for r in rows if not (r.ok and r.survived)]
    if failed:
        print(f"FAILED ({len(failed)} of {len(rows)} rows, {total:.0f} s): " + ", ".join(f"{r.key} ({r.attack})" for r in failed))
        for r in failed:
            log(f"-- row {r.key} failed: {r.why or r.result}")
        return 1
    print(f"all {len(rows)} rows passed in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
