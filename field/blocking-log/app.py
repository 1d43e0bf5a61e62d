"""Field target `blocking-log`: Flask whose request path logs one record per request through
a handler that blocks for ~5 ms (a slow disk, a remote syslog, a full pipe). logging.Handler
holds its lock while it emits, so every request thread queues behind that one lock: the
service serves at most 1 / 5 ms = 200 requests a second however many threads it has.

FIELD_LOG_MODE=direct (the pathology) logs through the slow handler on the request path;
FIELD_LOG_MODE=queue (the healthy twin) logs through a QueueHandler, and a QueueListener
thread feeds the same slow handler off the request path. FIELD_LOG_DELAY sets the block
(default 0.005 s).
"""

import logging
import logging.handlers
import os
import queue
import time

from flask import Flask

DELAY = float(os.environ.get("FIELD_LOG_DELAY", "0.005"))
MODE = os.environ.get("FIELD_LOG_MODE", "direct")


class SlowHandler(logging.Handler):
    """A handler whose write takes DELAY seconds, e.g. a log file on a slow network disk."""

    def emit(self, record):
        self.format(record)
        time.sleep(DELAY)


log = logging.getLogger("field.requests")
log.setLevel(logging.INFO)
log.propagate = False
if MODE == "queue":
    records = queue.SimpleQueue()
    log.addHandler(logging.handlers.QueueHandler(records))
    listener = logging.handlers.QueueListener(records, SlowHandler())
    listener.start()
else:
    log.addHandler(SlowHandler())

app = Flask(__name__)


@app.get("/orders")
def orders():
    log.info("GET /orders served")
    return "[]\n"


@app.get("/health")
def health():
    return "ok"
