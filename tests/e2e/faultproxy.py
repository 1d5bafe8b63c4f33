"""A fault-injecting HTTP proxy between cairn and a real upstream, for the
proxy-repository tests. It forwards every request to the upstream (Host kept,
so the upstream writes its own URLs with this proxy's address), counts them
by method and path, and on command misbehaves:

  mode "pass"      forward (default)
  mode "reset"     close the connection without an answer (a dead upstream)
  mode "503"       answer 503
  mode "429:N"     answer 429 with Retry-After: N
  mode "tamper"    forward, but flip one byte of every body whose path contains
                   one of `tamper_paths` (tarballs, PyPI files, OCI blobs)
  delay_ms         wait before answering (slow upstream)
  throttle_bps     send bodies at this many bytes per second (0: at once)
  hold_at          stop sending a body after this many bytes until `release`
                   is set (a fill that cannot finish until the test says so)

Controlled in-process (the tests import it) through `FaultProxy.mode`,
`.delay_ms`, `.counts` and `.reset_counts()`.
"""

import http.client
import http.server
import socketserver
import threading
import time
from collections import Counter


class FaultProxy:
    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.mode = "pass"
        self.delay_ms = 0
        self.throttle_bps = 0
        self.hold_at = None
        self.release = threading.Event()
        self.tamper_paths = ["/-/", "/packages/", "/blobs/"]
        self.counts = Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Each throttled piece goes out when written, not held for the
            # previous piece's ACK (which a client may delay by 40 ms).
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def handle_any(self):
                with proxy.lock:
                    proxy.counts[(self.command, self.path.split("?")[0])] += 1
                mode = proxy.mode
                if proxy.delay_ms:
                    time.sleep(proxy.delay_ms / 1000)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if mode == "reset":
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "503" or mode.startswith("429"):
                    status = 503 if mode == "503" else 429
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", mode.split(":")[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                up = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "accept-encoding")}
                up.request(self.command, self.path, body=body, headers=headers)
                resp = up.getresponse()
                data = resp.read()
                if mode == "tamper" and data and resp.status == 200 and any(p in self.path for p in proxy.tamper_paths):
                    data = data[:-1] + bytes([data[-1] ^ 1])
                self.send_response(resp.status)
                head = self.command == "HEAD"
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection") and (head or k.lower() != "content-length"):
                        self.send_header(k, v)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not head:
                    rate = proxy.throttle_bps
                    step = 16 * 1024 if rate or proxy.hold_at is not None else len(data) or 1
                    try:
                        for i in range(0, len(data), step):
                            if proxy.hold_at is not None and i >= proxy.hold_at:
                                self.wfile.flush()
                                proxy.release.wait(120)
                            self.wfile.write(data[i:i + step])
                            if rate:
                                self.wfile.flush()
                                time.sleep(step / rate)
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True  # the client (a killed replica) went away
                up.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, method, path_part):
        with self.lock:
            return sum(n for (m, p), n in self.counts.items() if m == method and path_part in p)

    def reset_counts(self):
        with self.lock:
            self.counts.clear()

    def stop(self):
        self.server.shutdown()
