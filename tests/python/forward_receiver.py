"""A publisher's backend on loopback for storedesk's forwarding tests: it checks every delivery with the Standard
Webhooks reference library for Python (`standardwebhooks`, PyPI), an implementation independent of storedesk's.

Prints `listening PORT` once it accepts connections, then one JSON line per request:
{"path", "id", "timestamp", "signature", "body", "verified": [one bool per --secret, in order], "error",
 "headers": {the x-storedesk-* and content-type, user-agent headers}, "answered": status or "hang"}.
It stops when its standard input closes.

Options:
  --secret whsec_...      a secret to verify with (repeat it: a delivery during a rotation carries two signatures)
  --fail-rate F           answer 503 to a random share F of the requests (--seed fixes the draw)
  --first N --then REPLY  answer the first N requests with REPLY (hang, redirect, or an HTTP status), then 200
"""

import argparse
import json
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--then", default="200")
    args = parser.parse_args()
    hooks = [Webhook(s) for s in args.secret]
    draw = random.Random(args.seed)
    lock = threading.Lock()
    state = {"scripted": args.first}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):  # quiet: stdout carries the JSON lines
            pass

        def do_POST(self):  # noqa: N802 (http.server's hook name)
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified, error = [], None
            for hook in hooks:
                try:
                    hook.verify(body, headers)
                    verified.append(True)
                except Exception as e:  # noqa: BLE001 (any refusal is the test's to report)
                    verified.append(False)
                    error = str(e)
            with lock:
                if state["scripted"] > 0:
                    state["scripted"] -= 1
                    reply = args.then
                elif args.fail_rate > 0 and draw.random() < args.fail_rate:
                    reply = "503"
                else:
                    reply = "200"
            line = {
                "path": self.path,
                "id": headers.get("webhook-id"),
                "timestamp": headers.get("webhook-timestamp"),
                "signature": headers.get("webhook-signature"),
                "body": body.decode("utf-8", errors="replace"),
                "verified": verified,
                "error": error,
                "headers": {k: v for k, v in headers.items()
                            if k.startswith("x-storedesk-") or k in ("content-type", "user-agent")},
                "answered": reply,
            }
            with lock:
                print(json.dumps(line), flush=True)
            if reply == "hang":
                time.sleep(60)
                return
            if reply == "redirect":
                self.send_response(307)
                self.send_header("location", "http://127.0.0.1:9/elsewhere")
                self.send_header("content-length", "0")
                self.end_headers()
                return
            status = int(reply)
            answer = b"ok" if status < 300 else b"try again later"
            self.send_response(status)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening {server.server_address[1]}", flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
