"""Field target `workers`: Flask + SQLAlchemy on PostgreSQL, written the way users write it.
Every GET /report runs one query that spends ~50 ms in PostgreSQL (a pg_sleep, then a read of
the books table) and renders the rows as JSON. Each worker process has its own QueuePool with a
connection for each of its threads, so the pool is not the cap: what caps the service is how
many requests gunicorn serves at a time.

The pathology runs it under gunicorn's default sync worker class with `-w 2`: two processes,
one request each, so at most two queries are ever running in PostgreSQL, the processes are
mostly idle (waiting on the database's answer) and every other connection waits in the listen
socket's accept queue. The healthy twin runs the same code with `-k gthread -w 2 --threads 16`.

Settings from the environment (scripts/start-field-targets sets them):
  FIELD_DATABASE_URL   postgresql+psycopg2://user:password@host:port/db
  FIELD_QUERY_SLEEP    seconds the query spends in PostgreSQL (default 0.05)
  FIELD_POOL_SIZE      QueuePool pool_size per process (default 5, SQLAlchemy's)
  FIELD_MAX_OVERFLOW   QueuePool max_overflow per process (default 10, SQLAlchemy's)
The start script sets 2 + 14: one connection for each of the twin's 16 threads (with the
default 5 + 10, a twin worker that gets all 16 of a load's connections, which gunicorn does
not balance, is capped at 15 in PostgreSQL: the pool target's signature), and only 2 idle
connections per process left after a load on the server the ten targets share.
  FIELD_APP_NAME       application_name of its connections, as pg_stat_activity shows it
                       (default field-workers)
"""

import os

from flask import Flask, jsonify
from sqlalchemy import create_engine, text

# SQLAlchemy's default pool unless told otherwise: pool_size 5, max_overflow 10, per process.
engine = create_engine(
    os.environ["FIELD_DATABASE_URL"],
    pool_size=int(os.environ.get("FIELD_POOL_SIZE", "5")),
    max_overflow=int(os.environ.get("FIELD_MAX_OVERFLOW", "10")),
    connect_args={"application_name": os.environ.get("FIELD_APP_NAME", "field-workers")},
)
QUERY_SLEEP = float(os.environ.get("FIELD_QUERY_SLEEP", "0.05"))

# One statement, one round trip: the materialized CTE sleeps once, not once per row.
REPORT = text(
    "WITH pause AS MATERIALIZED (SELECT pg_sleep(:s)) "
    "SELECT id, title FROM books, pause ORDER BY id"
)

app = Flask(__name__)


@app.get("/report")
def report():
    with engine.connect() as conn:
        rows = conn.execute(REPORT, {"s": QUERY_SLEEP}).all()
    return jsonify({"books": [{"id": r.id, "title": r.title} for r in rows], "count": len(rows)})


@app.get("/health")
def health():
    return "ok"
