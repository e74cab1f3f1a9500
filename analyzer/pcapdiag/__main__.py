"""Run the command line as ``python -m pcapdiag``."""

from pcapdiag.cli import main

main()
