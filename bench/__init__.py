"""Benchmarks behind ``make bench``: each module prints a table and writes its section of results.json."""
