"""One module of SQL per domain. Functions take a connection from `Database` and return plain
values or dicts; they never decide who may do what (the callers and RLS do)."""
