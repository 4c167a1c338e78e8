"""Exact-match response cache: in-memory LRU by default, Redis when configured."""
