"""The brokers a bridge talks to, one module each, behind the protocols of
:mod:`.base`; a broker's module is imported only when a bridge uses it (its
client library is an optional extra)."""
