"""LocalServer: an m2d-server child process on 127.0.0.1 (a free port), for tools that want a server of
their own: the HEAR module, tests, notebooks. The binary is $M2D_BIN/m2d-server, else m2d-server on PATH."""
import atexit
import os
import queue
import re
import shutil
import subprocess
import threading
import time


def find_binary(name):
    """$M2D_BIN/<name>, else <name> on PATH; a clear error naming both otherwise."""
    folder = os.environ.get("M2D_BIN")
    if folder:
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
        raise FileNotFoundError(f"M2D_BIN is {folder!r} but {path} is not an executable; build it (make build)")
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(
            f"{name} is not on PATH; build m2d-serve (make build) and set M2D_BIN=<repo>/.build/release")
    return path


class LocalServer:
    """Starts `m2d-server --model MODEL ARGS...` and waits until it is ready (`url`, `port`, `proc`).
    stop() sends SIGTERM and checks that the server drained and exited 0; it also runs at interpreter exit."""

    def __init__(self, model, *args, binary=None, ready_timeout=120):
        binary = binary or find_binary("m2d-server")
        self.proc = subprocess.Popen(
            [binary, "--model", model, "--host", "127.0.0.1", "--port", "0", "--admin-port", "0", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.port, self.log = None, []
        # A reader thread keeps draining the log (the server must never block on a full pipe) and lets the
        # wait below time out even when the server prints nothing.
        lines = queue.Queue()
        threading.Thread(target=self._drain, args=(lines,), daemon=True).start()
        deadline, ready = time.time() + ready_timeout, False
        while not ready:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.time()))
            except queue.Empty:
                break
            if line is None:  # the server exited
                break
            m = re.search(r" port=(\d+)", line)
            if m and self.port is None:
                self.port = int(m.group(1))
            ready = "] ready" in line
        if not ready or self.port is None:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("m2d-server did not become ready:\n" + "".join(self.log[-20:]))
        self.url = f"http://127.0.0.1:{self.port}"
        atexit.register(self.stop)

    def _drain(self, lines):
        for line in self.proc.stderr:
            self.log.append(line)
            lines.put(line)
        lines.put(None)

    def stop(self, timeout=60):
        """SIGTERM, then the exit status (0 after a drain)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        status = self.proc.wait(timeout=timeout)
        atexit.unregister(self.stop)
        return status

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
