"""`switchboard replay`: placeholder wired below."""
def add_replay_command(commands):  # noqa: ANN001, ANN201
    return None
