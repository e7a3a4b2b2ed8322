"""The service layer: sessions, the command pipeline, handlers, repositories, retention.

A command goes one way: `pipeline.handle` validates it, replays it by `command_id`, runs its
handler (a generator in `handlers.py` that yields the reads it needs and returns a `Decision`:
no I/O of its own), plans the statements (`writes.py`, `transaction.py`) and the after-commit
effects (cache, automatic pruning). All of it is steps; a driver is the only part that talks
to the database: `unit_of_work.py` (blocking) or `scripts_es/aio/driver.py` (asyncio).
"""
