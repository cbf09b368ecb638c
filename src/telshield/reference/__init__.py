"""Reference data every adapter and the simulator may read: the numbering plan compiled from
the ``phonenumbers`` metadata (``numbering``) and the feed contract (``schemas``).

It sits just above ``domain`` (whose types and laws it fills with data) and below the adapters
(``feeds``, ``store``, ``screening``), the detectors and the simulator (``world``), so that they
all read one plan and one set of feed schemas instead of each keeping its own copy.
"""
