"""The rules between the API and the providers: desired-state generations (from which
``PENDING_*`` follows), provider selection and error mapping, quotas. No HTTP, no data plane.
"""
