"""Field target `lock`: Flask + SQLAlchemy on PostgreSQL, written the way users write it.
Every POST /orders reserves one unit of stock in one transaction: an UPDATE of the item's row,
~50 ms of further work inside the transaction (a pg_sleep, standing for the other statements
an order runs), then COMMIT. The UPDATE holds the row's lock until the commit.

The pathology (FIELD_HOT_ROW=1) reserves the same item, row id 1, on every request: the
transactions serialize on that row's lock inside PostgreSQL, so the service serves at most
about 1 / 50 ms = 20 orders a second however many threads and connections it has, while
PostgreSQL shows nearly every one of its connections active and waiting on a Lock
(wait_event_type 'Lock', wait_event 'transactionid'). The healthy twin (FIELD_HOT_ROW=0)
reserves a random item among the 1,000 rows, so the transactions rarely meet.

Why 50 ms and not 20: with 20 ms the twin, one Python process, needs 83-90 % of a core at 16
connections (613 req/s): it would look like the GIL target. With 50 ms it serves ~290 req/s
at 16 connections on a third of a core.

Under gunicorn `-k gthread -w 1 --threads 32` the pool allows 32 connections (2 kept idle +
30 overflow, FIELD_POOL_SIZE / FIELD_MAX_OVERFLOW), one per thread: the pool is not the cap.
It keeps only 2 idle after a load: the ten field targets share one PostgreSQL whose
max_connections is 100, and the pool target's twin alone opens 64.

Settings from the environment (scripts/start-field-targets sets them):
  FIELD_DATABASE_URL   postgresql+psycopg2://user:password@host:port/db
  FIELD_HOT_ROW        1: every order updates row 1 (the pathology); 0: a random row
  FIELD_STOCK_ROWS     rows in the stock table (default 1000)
  FIELD_TX_SLEEP       seconds of work inside the transaction, after the UPDATE (default 0.05)
  FIELD_POOL_SIZE      QueuePool pool_size (default 2)
  FIELD_MAX_OVERFLOW   QueuePool max_overflow (default 30)
  FIELD_APP_NAME       application_name of its connections (default field-lock)
"""

import os
import random

from flask import Flask, jsonify
from sqlalchemy import create_engine, text

engine = create_engine(
    os.environ["FIELD_DATABASE_URL"],
    pool_size=int(os.environ.get("FIELD_POOL_SIZE", "2")),
    max_overflow=int(os.environ.get("FIELD_MAX_OVERFLOW", "30")),
    connect_args={"application_name": os.environ.get("FIELD_APP_NAME", "field-lock")},
)
HOT_ROW = os.environ.get("FIELD_HOT_ROW", "1") == "1"
STOCK_ROWS = int(os.environ.get("FIELD_STOCK_ROWS", "1000"))
TX_SLEEP = float(os.environ.get("FIELD_TX_SLEEP", "0.05"))

app = Flask(__name__)


@app.post("/orders")
def orders():
    item = 1 if HOT_ROW else random.randint(1, STOCK_ROWS)
    # engine.begin(): one transaction, committed when the block ends.
    with engine.begin() as conn:
        reserved = conn.execute(
            text("UPDATE stock SET reserved = reserved + 1 WHERE id = :id RETURNING reserved"),
            {"id": item},
        ).scalar_one()
        conn.execute(text("SELECT pg_sleep(:s)"), {"s": TX_SLEEP})
    return jsonify({"item": item, "reserved": reserved})


@app.get("/health")
def health():
    return "ok"
