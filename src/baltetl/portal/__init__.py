"""The partners' e-service: revise the database in a browser (`baltetl portal serve`).

    store.py      accounts, sessions, proposals, audit log (SQLAlchemy; schema by Alembic in migrations/)
    auth.py       passwords (argon2), sessions, CSRF tokens, sign-in rate limiting
    warehouse.py  read-only look-ups in the warehouse (a short DuckDB connection per request)
    output.py     approved proposals -> revisions/portal-<metropolis>.csv, checked like every revision file
    app.py        the Starlette application and its pages (templates/)
    (its commands, `baltetl portal serve` and `baltetl portal users add|list|disable`, are in baltetl/cli/portal.py)
"""
