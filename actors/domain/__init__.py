"""Pure domain: the vocabulary of the engine and the decisions made with it.

Nothing here starts an actor, reads a clock or touches I/O, so all of it is tested directly.
"""
