"""The NGINX provider: one NGINX master per load balancer, driven by a reconciler.

What belongs here: the API-side capability table (``driver``), the pure translation of an
octavia-lib graph into a plain view (``view``) and from there into nginx.conf via template
files (``render``, ``templates/``), quoting of user strings (``escape``), the NGINX process with
validated swaps and graceful reloads (``process``), per-listener counters read from NGINX's own
access logs (``counters``) and the converger/agent that ties them together. What it shares with
other providers — process helpers, state directories, the health prober, status roll-up, the
statistics book, capability checks — comes from ``statera.providers.kit``.
"""
