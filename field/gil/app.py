"""Field target `gil`: Flask whose GET /work does pure-Python CPU work (~5 ms on this
machine). Under gunicorn with one worker process and several threads, the threads share one
GIL: the process cannot use more than about one core, whatever --threads says. The healthy
twin runs the same app with one worker process per core (-w 2).

FIELD_WORK_ITERATIONS sets the size of the work (default 30000 loop iterations).
"""

import os

from flask import Flask

ITERATIONS = int(os.environ.get("FIELD_WORK_ITERATIONS", "30000"))

app = Flask(__name__)


def checksum(n):
    total = 0
    for i in range(n):
        total = (total * 31 + i) % 1000003
    return total


@app.get("/work")
def work():
    return f"{checksum(ITERATIONS)}\n"


@app.get("/health")
def health():
    return "ok"
