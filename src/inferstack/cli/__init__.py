"""Command-line entry points: one thin module per command group."""
