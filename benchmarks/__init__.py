"""asyncsignal's benchmark suite: ``python3 dev.py bench`` (see ``run.py``)."""
