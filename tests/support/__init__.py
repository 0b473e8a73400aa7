"""Helpers of the test suite that are not receivers (those are in
``tests/receivers.py``): the backends async tests run on."""
