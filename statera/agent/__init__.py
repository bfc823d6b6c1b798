"""The driver agent: the status, stats and get socket servers that octavia-lib's
``DriverLibrary`` talks to, the supervisor of provider agents, and the shared reconcile loop
that Statera's own provider agents run. It is the only writer of applied state, operating
status and statistics. It never imports a specific provider.
"""
