"""Pure pipeline steps over the canonical model: enrich (map to accounts), validate (gates, periods)."""
