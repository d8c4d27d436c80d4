"""Benchmarks, run on demand (not tests): each prints a table and writes bench/results/*.json.

Run them as modules from the repository root, e.g. `.venv/bin/python -m bench.engine`:
run as a script, a file's folder comes first on sys.path, and `bench/queue.py` would then
shadow the standard library's `queue` for every benchmark.
"""
