"""Free TCP ports on loopback, for the servers tests start (brokers, the daemon's HTTP endpoints,
Prometheus, Alertmanager, webhook receivers).

The demo needs the same to start its broker, so the one definition is the demo's
(:func:`monitor.demo.broker.free_loopback_ports`); tests take it from here.
"""

from __future__ import annotations

from monitor.demo.broker import free_loopback_ports

__all__ = ["free_loopback_ports"]
