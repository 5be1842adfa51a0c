"""Errors that every layer may raise and the front ends (CLI, report, playground) render.

Each carries a message meant for the person who typed the input: it says what is wrong and what
to do instead, in one line. The CLI prints it and exits with code 2; the playground answers 422.
"""
from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is invalid; the message says which and how to fix it."""


class DivergedError(RuntimeError):
    """Every network of a run diverged (non-finite or exploding loss): there is nothing to
    report. The message says how many and which setting to lower (usually the learning rate)."""


class TooMuchWorkError(ConfigError):
    """The estimated memory or work of a configuration exceeds the documented limit; the
    message names the estimate, the limit and the parameter to lower."""
