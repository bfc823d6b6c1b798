"""The noop provider: accepts everything, touches no data plane, reports every object ACTIVE."""
