"""What-ifs run bit-true in one process: the TV-advert peak on the old and the new centre
(tv_peak.py), with their accounts, loss reports and charts.

May import: ``cti.server`` (a ``Service`` without sockets), ``cti.centre``,
``cti.store``, ``simulators``, ``drivers``. Never ``cti.clients``.
"""
