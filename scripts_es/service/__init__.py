"""The service layer: sessions, the command pipeline, handlers, repositories, retention.

A command goes one way: `pipeline.handle` validates it, replays it by `command_id`, runs its
handler (a generator in `handlers.py` that yields the reads it needs and returns a `Decision`:
no I/O of its own), plans the statements (`writes.py`), and a unit of work (`unit_of_work.py`)
runs them in one transaction with the command log, then the after-commit effects (cache,
automatic pruning). A driver (the unit of work) is the only part that talks to the database.
"""
