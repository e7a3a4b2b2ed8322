"""What every test folder shares.

- `pg`: the test server, its schema template and throwaway databases;
- `fixtures`: the database fixtures (`dsn`, `module`, `tenant`, `clock`, …), for conftest.py;
- `clock`: a clock tests move by hand;
- `raw`: raw superuser views of what is stored (rows, versions, tables, backends);
- `commands`: valid commands of every script type;
- `strategies`: hypothesis strategies for the domain;
- `cli`: the CLI in-process or as a child process;
- `conformance`: the repository contract each backend's test class runs.
"""
