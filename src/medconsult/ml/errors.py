"""Errors of the diagnostic classifier.

Every error names the problem in words a user can act on; the CLI prints the message and exits
with status 2 without a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class ModelError(Exception):
    """Base class of every expected error of the ml package."""


class ArtifactError(ModelError):
    """A model artifact directory is missing, incomplete or corrupt."""


class InputTextError(ModelError, ValueError):
    """A text given to the classifier is empty or too long."""


class DataFormatError(ModelError, ValueError):
    """A data file cannot be read as a labelled data set."""


class SettingError(ModelError, ValueError):
    """A command's setting is out of its range."""


def exit_status(command: Callable[[], int]) -> int:
    """Run a command; an expected error becomes its message on stderr and exit status 2."""
    try:
        return command()
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
