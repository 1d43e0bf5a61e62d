"""Field target `pool`: Flask + SQLAlchemy's QueuePool on PostgreSQL, written the way users
write it. Every GET /books holds its pooled connection for ~300 ms (a slow report query), so with
more concurrent requests than the pool holds (pool_size + max_overflow) the requests queue
for a connection and, after pool_timeout, fail with SQLAlchemy's TimeoutError, which the
error handler turns into an HTTP 500 carrying the error's text.

Settings from the environment (scripts/start-field-targets sets them):
  FIELD_DATABASE_URL   postgresql+psycopg2://user:password@host:port/db
  FIELD_POOL_SIZE      QueuePool pool_size (default 5)
  FIELD_MAX_OVERFLOW   QueuePool max_overflow (default 10)
  FIELD_POOL_TIMEOUT   seconds to wait for a connection (default 1)
  FIELD_QUERY_SLEEP    seconds the query holds its connection (default 0.3)
"""

import os

from flask import Flask, jsonify
from sqlalchemy import create_engine, exc, text

engine = create_engine(
    os.environ["FIELD_DATABASE_URL"],
    pool_size=int(os.environ.get("FIELD_POOL_SIZE", "5")),
    max_overflow=int(os.environ.get("FIELD_MAX_OVERFLOW", "10")),
    pool_timeout=float(os.environ.get("FIELD_POOL_TIMEOUT", "1")),
    connect_args={"application_name": os.environ.get("FIELD_APP_NAME", "field-pool")},
)
QUERY_SLEEP = float(os.environ.get("FIELD_QUERY_SLEEP", "0.3"))

app = Flask(__name__)


@app.get("/books")
def books():
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(:s)"), {"s": QUERY_SLEEP})
        rows = conn.execute(text("SELECT id, title FROM books ORDER BY id")).all()
    return jsonify([{"id": r.id, "title": r.title} for r in rows])


@app.get("/health")
def health():
    return "ok"


@app.errorhandler(exc.TimeoutError)
def pool_timeout(error):
    # What many apps do: show the database error in the 500's body.
    return f"database error: {error}\n", 500, {"Content-Type": "text/plain"}
