"""Command line interface: ``kinema <verb>``, a thin layer over the Python API."""
