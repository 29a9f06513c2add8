"""A Messages-API server for the benchmarks, in its own process: fixed latency, counts requests.

python benchmarks/model_server.py PORT LATENCY_SECONDS
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNT = 0
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    latency = 0.2

    def log_message(self, *args):
        pass

    def do_GET(self):  # /count
        self._send({"count": COUNT})

    def do_POST(self):
        global COUNT
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        with LOCK:
            COUNT += 1
        time.sleep(self.latency)
        self._send(
            {
                "id": "msg",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": "answer: ok"}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 50, "output_tokens": 3},
            }
        )

    def _send(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    port, latency = int(sys.argv[1]), float(sys.argv[2])
    Handler.latency = latency
    server = Server(("127.0.0.1", port), Handler)
    server.serve_forever()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen() backlog: the default 5 drops SYNs from 32 clients at once


if __name__ == "__main__":
    main()
