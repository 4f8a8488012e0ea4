"""End-user pipelines: the Python API that the CLI is a thin layer over."""
