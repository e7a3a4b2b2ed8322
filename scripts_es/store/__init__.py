"""Persistence: connection pools and transactions, the event store and its mapper, the SQL
loader, schema migrations, and the one boundary where driver errors become scripts_es errors.
Repositories and the command pipeline are the service layer's (scripts_es/service/)."""
