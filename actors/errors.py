"""Refusals the engine gives to callers; the gRPC layer maps each to one status code."""


class EngineError(Exception):
    """A request the engine refuses, with a message a person can act on."""


class NotFound(EngineError):
    pass


class InvalidArgument(EngineError):
    pass


class FailedPrecondition(EngineError):
    pass


class Unavailable(EngineError):
    pass
