"""The provider kit: what every Statera provider that runs local processes shares.

Any provider may import it; core code (api/, controller/, agent/) never needs it, and providers
still never import each other (tests/test_layers.py); the CLI uses ``dataplanes`` to list and
stop what a data directory runs. It holds process supervision and state directories (``procs``),
the converger base with adoption of running instances (``converger``), finding and stopping
every data plane of a data directory from its pid files (``dataplanes``), the graph helpers
every renderer needs — ``Unset`` handling, VIP addresses, identifiers, certificate bundles
(``graph``) — operating-status constants, roll-up and report diffing (``status``), the
statistics book (``stats``), the active health prober for data planes without checks of their
own (``prober``) and the table-driven capability declaration that both the drivers' validation
and the README read (``capabilities``).
"""
