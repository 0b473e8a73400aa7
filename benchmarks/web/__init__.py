"""The end-to-end web benchmark: ``python benchmarks/web/run.py`` (see ``run.py``)."""
