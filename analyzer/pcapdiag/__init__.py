"""pcapdiag: label every client-to-server TCP/TLS connection in a packet capture."""

__version__ = "0.1.0"
