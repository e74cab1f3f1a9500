"""Run the command line as ``python -m pcapdiag``."""

from pcapdiag.cli import main

if __name__ == "__main__":
    main()
