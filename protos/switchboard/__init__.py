"""Switchboard: routing and work distribution for contact centres.

`switchboard.v1` holds the gRPC API (the .proto files and the code generated from them);
`switchboard.actors` the engine; `switchboard.server` the gRPC server and its command line;
`switchboard.clients` the gateway, desktop, replay and load-test clients.
"""

__version__ = "0.1.0"
