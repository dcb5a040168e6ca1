"""Clients of the gRPC API: channel gateway, agent desktop, replay, load test."""
