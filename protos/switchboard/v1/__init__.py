"""Generated gRPC API, package switchboard.v1 (regenerate with `make protos`)."""
