"""The bot the pipeline ships: a list of stages behind one protocol, composed from a bundle folder."""
