"""The HAProxy provider: one HAProxy process per load balancer, driven by a reconciler.

What belongs here: the API-side capability checks (``driver``), the pure translation of an
octavia-lib load-balancer graph into a plain view (``view``) and from there into haproxy.cfg via
template files (``render``, ``templates/``), quoting of user strings (``escape``), process
management with validated atomic swaps and seamless reloads (``process``), the runtime-API
client (``runtime``), health roll-up and statistics bookkeeping (``health``, ``stats``), and the
converger/agent that ties them together. What does not: VIP plumbing (``statera.network``),
certificate storage (``statera.certs``), database access (only through the driver library).
"""
