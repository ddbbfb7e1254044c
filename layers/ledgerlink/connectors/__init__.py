"""Connectors: ``sources`` turn provider payloads into canonical documents; ``erps`` post journals."""
