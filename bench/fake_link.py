"""The fake LINK Mobility SMS API of the test suite, served on 127.0.0.1 in a process of its own.

    python -m bench.fake_link        # prints its base URL (http://127.0.0.1:PORT/sms) on the first line

The answers are `tests.fakes_linkmobility.FakeLink`'s (credentials, platform ids and fields checked, 200 with a
messageId and result code 1005 "Queued"); this server adds HTTP/1.1 keep-alive, as an HTTP API has, so one
connection carries many messages, and `GET /stats` with the refId of every message accepted. In a process of
its own it does not share the benchmark's interpreter lock: its work is not counted in the worker's time.
"""

from __future__ import annotations

import json
import sys
from http.server import ThreadingHTTPServer

from tests.fakes_http import QuietHandler
from tests.fakes_linkmobility import ENV, FakeLink

__all__ = ["ENV", "main"]


def main() -> int:
    fake = FakeLink()

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"
        # The headers and the body go out in two writes: with Nagle's algorithm the second waits for the
        # client's delayed ACK of the first (40 ms on Linux) on a kept-alive connection.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            reply = fake.answer("POST", self.path, self.headers.get("Authorization"), body)
            self.reply(reply.status, reply.content(), reply.headers)

        def do_GET(self) -> None:
            if self.path != "/stats":
                self.reply(404, b"{}")
                return
            with fake.lock:
                stats = {"received": len(fake.received), "accepted": list(fake.accepted)}
            self.reply(200, json.dumps(stats).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]}/sms", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
