"""Tests against real OpenStack services (Keystone from PyPI) on loopback."""
