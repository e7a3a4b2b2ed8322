"""The asyncio driver: `AsyncScriptsModule` on psycopg's async connections and pool.

It runs the same steps as the blocking module (`scripts_es/service/`: pipeline, transaction,
operations, handlers) and the same SQL files; only the waiting differs. `database.py` holds
the async pools and transactions, `driver.py` answers the steps, `repositories.py` and
`module.py` are the surface, one line per call.
"""
