"""`python -m inferstack` runs the CLI."""

from inferstack.cli.main import main

main()
