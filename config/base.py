"""The base of every configuration model: unknown keys are errors and a loaded config never changes."""

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def setting_errors(title: str, problems: list[tuple[tuple[str, ...], object, str]]) -> ValidationError:
    """Cross-field rules' errors, each reported at the setting to change as (location, value, message), instead of
    at the whole section with its whole input."""
    details = [
        InitErrorDetails(type=PydanticCustomError("setting", "{message}", {"message": message}), loc=loc, input=value)
        for loc, value, message in problems
    ]
    return ValidationError.from_exception_data(title, details)
