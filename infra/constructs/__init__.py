"""One construct per part of docs/architecture.md (plus the shared key, tables, buckets and layer they use)."""
