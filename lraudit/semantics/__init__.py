"""Optimizer semantics: how each Keras era turns a config into the lr applied at each step."""
