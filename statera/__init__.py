"""Statera: an Octavia-compatible load-balancing control plane.

Sub-packages are split by concern (see DESIGN.md): ``api`` (HTTP edge), ``db`` (models and
migrations), ``controller`` (rules between API and providers), ``agent`` (driver agent),
``bus`` (convergence hints), ``providers`` (plug-ins), ``network`` (VIPs) and ``certs``.
"""
