"""The HTTP edge: Octavia's v2 API (plus the read-only Neutron subset and Statera's certificate
upload). Handlers parse and validate requests, check policy, and hand the change to
``statera.controller``; they never import a provider.
"""
