"""The gRPC server: services that translate between protobuf and the engine."""
