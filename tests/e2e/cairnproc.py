"""A real `cairn serve` process for the Python end-to-end tests: start it on a
free loopback port, wait until it is ready, remember the admin credential it
prints on first start, send it requests, stop or kill it."""

import base64
import http.client
import os
import signal
import socket
import subprocess
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Cairn:
    def __init__(self, binary, data_dir, port=None, password=None, env=None):
        self.binary, self.data_dir = binary, data_dir
        self.port = port or free_port()
        self.password = password
        self.env = env
        self.proc = None

    @property
    def basic(self):
        return "Basic " + base64.b64encode(f"admin:{self.password}".encode()).decode()

    def start(self, log_path):
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir],
            stdout=subprocess.PIPE, stderr=open(log_path, "w"), text=True,
            env={**os.environ, **(self.env or {})})
        # Generous: a restart after SIGKILL on a loaded machine has been seen
        # to take more than 30 s (docs: the crash test); readiness is still required.
        deadline = time.time() + 90
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"FAIL: cairn did not become ready (see {log_path})")
            time.sleep(0.05)
        if self.password is None:
            self.password = next(line.split()[-1] for line in self.proc.stdout if "password:" in line)
        # Keep draining stdout so the process never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        return self

    def request(self, method, path, body=None, headers=None, auth=None, timeout=60):
        """Returns (status, headers with lower-case names, body)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if auth:
            h["Authorization"] = auth
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout=30):
        """SIGTERM; returns the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)
