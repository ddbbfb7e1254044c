"""``make bench``: LedgerLink's benchmarks. Each figure lives in its own module and writes its own key of
``bench/results.json``; ``python -m bench`` runs them all."""
