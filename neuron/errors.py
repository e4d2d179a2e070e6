"""The one base class of every error a user can fix by changing a setting.

Configuration, pre-flight, sizing and region errors derive from it; `app.py` and `neuronctl` print such an error
without a traceback and exit non-zero. Anything else is a bug in this project and keeps its traceback.
"""


class UserError(ValueError):
    """A setting that would fail: the message names the setting, the numbers and the fix."""
