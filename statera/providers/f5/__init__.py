"""The F5 BIG-IP provider: load balancers declared on a BIG-IP through AS3 (iControl REST).

What belongs here: the ``[f5]`` settings section (``settings``), the API-side capability
checks (``driver``), the pure translation of the load balancers of one project into one AS3
tenant declaration (``declaration``) and its check against F5's published schema
(``schema``), the iControl REST/AS3 client (``client``), the per-tenant coalescing declarer
(``tenant``), the converger that ties them together and reads health and statistics back
(``converger``, ``health``), secret redaction for messages (``redact``), and the agent entry
point (``agent``). What does not: anything about a particular device or an emulator of one; VIP
plumbing; certificate storage (the get socket hands certificates in with the graph).
"""
