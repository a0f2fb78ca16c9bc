"""`python -m tachyon` runs the CLI."""

from tachyon.cli.main import main

main()
