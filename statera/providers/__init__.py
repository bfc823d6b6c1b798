"""Provider plug-ins. Each sub-package is one provider: a ``driver`` (octavia-lib
``ProviderDriver``, runs in the API process) and an ``agent`` (runs under the driver agent and
converges the data plane). Providers never import each other; core code never imports them
(they are found through entry points).
"""
