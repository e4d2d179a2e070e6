"""Exit codes that mean something, and one readable line for every AWS failure instead of a traceback."""

from __future__ import annotations

from enum import IntEnum

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    TokenRetrievalError,
)


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the operation ran and failed: a run failed, the model raised an error
    USAGE = 2  # bad command line (argparse exits with 2 as well)
    REFUSED = 3  # a pre-flight check refused to send: settings out of range, prompt over the context window
    NOT_FOUND = 4  # stack, output, endpoint, component or execution does not exist: deploy or check the name
    ENVIRONMENT = 5  # credentials, region or permissions
    UNAVAILABLE = 6  # still throttled, not ready, failing with 5xx or timing out after every retry
    BLOCKED = 7  # the guardrail intervened on the prompt or the completion
    INTERRUPTED = 130


EXIT_CODES_HELP = "exit codes: " + ", ".join(f"{c.value} {c.name.lower().replace('_', '-')}" for c in ExitCode)


class CliError(Exception):
    """A failure already phrased for the operator, with the exit code it maps to."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "LimitExceededException",
    }
)
AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "AuthFailure",
    }
)


def attempts(err: ClientError) -> int:
    """How many requests botocore sent before giving up (the first one plus its retries)."""
    return int(err.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def error_message(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", "")).strip()


def explain(err: Exception) -> CliError:
    """Turn a botocore failure into one line and an exit code; anything unknown stays a plain failure."""
    if isinstance(err, CliError):
        return err
    if isinstance(err, NoRegionError):
        return CliError(
            "no AWS region: pass --region or set region in the profile's config/<profile>.yaml", ExitCode.ENVIRONMENT
        )
    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        return CliError(
            "no AWS credentials found: run `aws configure sso` / `aws sso login`, pass --aws-profile, or set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            ExitCode.ENVIRONMENT,
        )
    if isinstance(err, ProfileNotFound):
        return CliError(f"{err}: check --aws-profile / AWS_PROFILE against ~/.aws/config", ExitCode.ENVIRONMENT)
    if isinstance(err, CredentialRetrievalError | TokenRetrievalError):
        return CliError(
            f"could not get AWS credentials: {err} (log in again, e.g. `aws sso login`)", ExitCode.ENVIRONMENT
        )
    if isinstance(err, ReadTimeoutError):
        return CliError(
            f"no response within the read timeout from {err.kwargs.get('endpoint_url', 'AWS')} after every retry; "
            "the service or the model is overloaded or hung: try again, or check the endpoint's CloudWatch metrics",
            ExitCode.UNAVAILABLE,
        )
    if isinstance(err, ConnectTimeoutError | EndpointConnectionError):
        return CliError(
            f"cannot connect: {err} (check the region, the network and any proxy settings)", ExitCode.UNAVAILABLE
        )
    if isinstance(err, ClientError):
        code, message = error_code(err), error_message(err)
        operation = err.operation_name
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if code in AUTH_CODES:
            return CliError(
                f"{operation} was refused: {code}: {message} (check the credentials' account and permissions)",
                ExitCode.ENVIRONMENT,
            )
        if code in THROTTLING_CODES or status == 429:
            return CliError(
                f"{operation} still throttled after {attempts(err)} attempts ({code}: {message}); "
                "retry later or raise --max-attempts",
                ExitCode.UNAVAILABLE,
            )
        if status >= 500:
            return CliError(
                f"{operation} failed with HTTP {status} after {attempts(err)} attempts ({code}: "
                f"{message}); the service is having trouble, retry later",
                ExitCode.UNAVAILABLE,
            )
        return CliError(f"{operation} failed: {code}: {message}", ExitCode.FAILED)
    if isinstance(err, BotoCoreError):
        return CliError(f"AWS SDK error: {err}", ExitCode.FAILED)
    raise err
