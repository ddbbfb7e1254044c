"""One construct per part of DESIGN.md (plus the shared key, tables, buckets and layer they use)."""
