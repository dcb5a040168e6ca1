"""The engine: actors that hold state and talk, and the pure decisions they rely on."""
