"""What is kept and what is read from it: the SQLite store (CDRs, queue log, agents'
states, campaigns, callbacks, the server's identity and its calls in flight, the clients' public keys), its WAL
syncer, the loss report, planning (Erlang B, C and A) and charts.

May import: this package only (and the standard library, sqlite-utils). The server writes
here; reports, planning and charts read from here.
"""
