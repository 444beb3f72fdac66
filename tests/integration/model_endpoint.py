"""The example model service (examples/models/series-geometry-serve) with the misbehaviours a
real endpoint can show, each at its own path, for tests/integration/ai/endpoint.rs:

  /infer      the example model, as shipped
  /hang       never answers (the node's timeout must stop it)
  /fail       HTTP 500 with a message
  /garbage    200 with text that is not the contract's JSON
  /chatty     200 with 100 000 bytes
  /redirect   307 to /infer (the node must not follow it: the images would go elsewhere)

Prints the base URL on its first line, then serves until stopped.
"""
import os
import runpy
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
SERVE = runpy.run_path(os.path.join(HERE, "../../examples/models/series-geometry-serve"))
Handler = SERVE["Handler"]


class Misbehaving(Handler):
    def do_POST(self):
        if self.path not in ("/infer", "/hang"):
            # Read first, as a server does: answering before the request is in would make the
            # node's send fail instead of its reading of the answer.
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/hang":
            threading.Event().wait()
        elif self.path == "/fail":
            self.reply(500, b"the model ran out of GPU memory\n", "text/plain")
        elif self.path == "/garbage":
            self.reply(200, b"hello")
        elif self.path == "/chatty":
            self.reply(200, b"a" * 100_000)
        elif self.path == "/redirect":
            self.send_response(307)
            self.send_header("Location", "/infer")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            super().do_POST()


if __name__ == "__main__":
    SERVE["serve"](Misbehaving)
