"""The one module that imports boto3/botocore (`photon-bundle publish` and the shared S3 cache): clients from the
standard chain, calls, waiters, object streams, and every AWS failure turned into a CloudError naming the AWS
error code and the fix.

Credentials, region, profile and endpoint come from boto3's own chain (AWS_PROFILE, AWS_ACCESS_KEY_ID...,
AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL); nothing is stored and no secret is ever printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from bundler.errors import CloudError

MAX_ATTEMPTS = 6  # per call, throttling and transient errors included (botocore "standard" retry mode backs off)
CONFLICT_RETRIES = 5  # a ResourceConflictException (an update in progress): wait for it, then try again
WAIT_DELAY = 2  # seconds between two polls of a waiter
WAIT_ATTEMPTS = 150  # polls: 5 minutes at most


def max_attempts(env: Mapping[str, str]) -> int:
    """Attempts per call: AWS_MAX_ATTEMPTS as boto3 reads it, else MAX_ATTEMPTS."""
    raw = env.get("AWS_MAX_ATTEMPTS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else MAX_ATTEMPTS


def boto_name(operation: str) -> str:
    """UpdateFunctionCode -> update_function_code."""
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


def iam_action(service: str, operation: str) -> str:
    """The IAM permission an API operation needs (lambda:UpdateFunctionCode, s3:PutObject)."""
    if service == "s3" and operation == "HeadObject":
        return "s3:GetObject"
    if service == "lambda" and operation == "ListVersionsByFunction":
        return "lambda:ListVersionsByFunction"
    return f"{service}:{operation}"


FIXES = {
    "ResourceNotFoundException": "check the function name and the region (AWS_REGION); pass --create --role ROLE_ARN "
                                 "to create a missing function",
    "NoSuchBucket": "create the bucket, or name an existing one in the function's region with --s3-bucket",
    "ResourceConflictException": "another update of the function is still running; run again when it has finished",
    "TooManyRequestsException": "the account is being throttled; run again later or raise the quota",
    "ThrottlingException": "the account is being throttled; run again later or raise the quota",
    "CodeStorageExceededException": "delete old function and layer versions (the account's code storage is full)",
    "InvalidParameterValueException": "check the value AWS names (the role ARN must be an existing role Lambda can "
                                      "assume; runtime and handler come from the manifest and --handler)",
    "RequestEntityTooLargeException": "pass --s3-bucket BUCKET so the zip goes through S3",
}
DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
          "InvalidClientTokenId", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
          "ExpiredTokenException")


def cloud_error(service: str, operation: str, code: str, message: str, target: str,
                attempts: int = MAX_ATTEMPTS) -> CloudError:
    """One message: the operation, on what, the AWS error code and AWS's words; the fix as the hint."""
    text = f"AWS {service} {operation} on {target} failed: {code}: {message}".rstrip(": ")
    if code in DENIED:
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            action = iam_action(service, operation)
            return CloudError(text, hint=f"grant the deploying identity the IAM permission {action} on {target}")
        return CloudError(text, hint="the credentials are not valid: check AWS_PROFILE / AWS_ACCESS_KEY_ID and the "
                                     "session token")
    if code in ("TooManyRequestsException", "ThrottlingException", "SlowDown", "Throttling"):
        return CloudError(f"{text} (still throttled after {attempts} attempts with backoff)", hint=FIXES.get(
            code, "run again later"))
    return CloudError(text, hint=FIXES.get(code))


CHUNK = 1024 * 1024  # bytes per read of an object's body


class Aws:
    """Lambda and S3 clients (made on first use) with bounded retries."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.max_attempts = max_attempts(env)
        retries: Any = {"total_max_attempts": self.max_attempts, "mode": env.get("AWS_RETRY_MODE") or "standard"}
        self._config = botocore.config.Config(retries=retries, connect_timeout=10, read_timeout=300)
        self._made: dict[str, Any] = {}
        try:
            self._session = boto3.session.Session(region_name=env.get("AWS_REGION") or None)
            self.region = self._session.region_name or ""
        except botocore.exceptions.ProfileNotFound as err:
            raise CloudError(f"AWS profile not found: {err}",
                             hint="set AWS_PROFILE to a profile in ~/.aws/config") from None

    def client(self, service: str) -> Any:
        if service not in self._made:
            try:
                self._made[service] = self._session.client(service, config=self._config)
            except botocore.exceptions.NoRegionError:
                raise CloudError("no AWS region: the function's region is not set",
                                 hint="set AWS_REGION (or AWS_DEFAULT_REGION, or a region in the AWS_PROFILE)"
                                 ) from None
        return self._made[service]

    def get_object(self, bucket: str, key: str, check: Callable[[dict[str, str], int], None]
                   ) -> Generator[bytes, None, None] | None:
        """An S3 object's body, read in chunks, once `check(metadata, length)` accepted it (what it raises is
        raised, the body closed); None when there is no such object. A failure while the body streams is a
        CloudError too."""
        target = f"s3://{bucket}/{key}"
        got = self.missing("s3", "GetObject", {"Bucket": bucket, "Key": key}, target)
        if got is None:
            return None
        meta = {str(k).lower(): str(v) for k, v in (got.get("Metadata") or {}).items()}
        try:
            check(meta, int(got.get("ContentLength") or 0))
        except BaseException:
            got["Body"].close()
            raise
        return self._chunks(got["Body"], target)

    def _chunks(self, body: Any, target: str) -> Generator[bytes, None, None]:
        try:
            while True:
                block: bytes = body.read(CHUNK)
                if not block:
                    return
                yield block
        except botocore.exceptions.BotoCoreError as err:
            raise self._client_side(err, "s3", "GetObject", target) from None
        finally:
            body.close()

    def call(self, service: str, operation: str, params: Mapping[str, Any], target: str) -> dict[str, Any]:
        """Run one API call; a ResourceConflictException waits for the function's update and tries again."""
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                method = getattr(self.client(service), boto_name(operation))
                result: dict[str, Any] = method(**params)
                return result
            except botocore.exceptions.ClientError as err:
                code = str(err.response.get("Error", {}).get("Code", "") or "")
                if code == "ResourceConflictException" and attempt < CONFLICT_RETRIES and "FunctionName" in params:
                    self.wait("function_updated_v2", {"FunctionName": params["FunctionName"]}, target)
                    time.sleep(min(2 ** attempt, 10))
                    continue
                message = str(err.response.get("Error", {}).get("Message", "") or "")
                if code == "ResourceConflictException":
                    message += f" (tried {CONFLICT_RETRIES + 1} times, waiting for the update in between)"
                raise cloud_error(service, operation, code, message, target, self.max_attempts) from None
            except botocore.exceptions.BotoCoreError as err:
                raise self._client_side(err, service, operation, target) from None
        raise AssertionError("unreachable")

    def missing(self, service: str, operation: str, params: Mapping[str, Any], target: str,
                codes: tuple[str, ...] = ("ResourceNotFoundException", "404", "NoSuchKey", "NotFound")
                ) -> dict[str, Any] | None:
        """A read that returns None when AWS says the thing does not exist."""
        try:
            method = getattr(self.client(service), boto_name(operation))
            result: dict[str, Any] = method(**params)
            return result
        except botocore.exceptions.ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", "") or "")
            if code in codes:
                return None
            raise cloud_error(service, operation, code, str(err.response.get("Error", {}).get("Message", "") or ""),
                              target, self.max_attempts) from None
        except botocore.exceptions.BotoCoreError as err:
            raise self._client_side(err, service, operation, target) from None

    def pages(self, operation: str, params: Mapping[str, Any], key: str, target: str) -> list[dict[str, Any]]:
        """Every item under `key` of a paginated Lambda list call."""
        try:
            paginator = self.client("lambda").get_paginator(boto_name(operation))
            return [item for page in paginator.paginate(**params) for item in page.get(key, [])]
        except botocore.exceptions.ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", "") or "")
            if code == "ResourceNotFoundException":
                return []
            raise cloud_error("lambda", operation, code, str(err.response.get("Error", {}).get("Message", "") or ""),
                              target, self.max_attempts) from None
        except botocore.exceptions.BotoCoreError as err:
            raise self._client_side(err, "lambda", operation, target) from None

    def wait(self, waiter: str, params: Mapping[str, Any], target: str) -> None:
        try:
            self.client("lambda").get_waiter(waiter).wait(
                **params, WaiterConfig={"Delay": WAIT_DELAY, "MaxAttempts": WAIT_ATTEMPTS})
        except botocore.exceptions.WaiterError as err:
            last = err.last_response or {}
            config = last.get("Configuration", last)
            reason = config.get("LastUpdateStatusReason") or config.get("StateReason") or err.reason
            code = str(last.get("Error", {}).get("Code", "") or "")
            if code:
                raise cloud_error("lambda", "GetFunction", code, str(last["Error"].get("Message", "")),
                                  target) from None
            raise CloudError(f"AWS lambda: {target} did not become ready ({waiter}): {reason}",
                             hint="see the function's LastUpdateStatusReason in the console; fix it and run again"
                             ) from None
        except botocore.exceptions.BotoCoreError as err:
            raise self._client_side(err, "lambda", waiter, target) from None

    @staticmethod
    def read_body(path: str) -> bytes:
        return Path(path).read_bytes()

    @staticmethod
    def _client_side(err: Exception, service: str, operation: str, target: str) -> CloudError:
        if isinstance(err, botocore.exceptions.NoCredentialsError):
            return CloudError(f"AWS {service} {operation} on {target}: no AWS credentials found",
                              hint="set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use a role "
                                   "(in GitHub Actions: aws-actions/configure-aws-credentials)")
        if isinstance(err, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)):
            return CloudError(f"AWS {service} {operation} on {target}: cannot reach the endpoint: {err}",
                              hint="check the network, AWS_REGION and AWS_ENDPOINT_URL")
        return CloudError(f"AWS {service} {operation} on {target} failed: {type(err).__name__}: {err}")
