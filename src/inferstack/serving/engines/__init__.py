"""Interchangeable inference engines, one module each; `registry.build_engine` picks one by name."""
