"""Work that runs later than the request that caused it: periodic jobs, on a job engine.

`schedule.py` lists every periodic job once (a name, a period, an async function). On
PostgreSQL `shuyuan worker` runs them on procrastinate (`engine.py`): any number of workers,
each period's run done once, retried, a worker killed mid-job replaced by another. On SQLite,
the embedded default, the same functions run inside the web process (`embedded.py`) so
`make run` still starts everything with one command.
"""
