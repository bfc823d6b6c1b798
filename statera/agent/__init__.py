"""The driver agent: the status, stats and get socket servers that octavia-lib's
``DriverLibrary`` talks to, the supervisor of provider agents, and the shared reconcile loop
that Statera's own provider agents run. It is the only writer of applied state, operating
status and statistics. It never imports a specific provider.

``driver_agent.DriverAgent`` wires ``server`` (sockets, on ``framing``) to the handlers
``status``, ``stats`` and ``get`` (graph walking in ``dbgraph``) and runs ``supervisor``.
Provider agents use ``client`` (DriverLibrary + extensions), ``contract``, ``reconcile`` and
``workqueue``; nothing here knows HTTP.
"""
