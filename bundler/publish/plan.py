"""Plan a Lambda publish: pure functions from the manifest and what is deployed to the AWS calls to make.

Nothing here talks to AWS (bundler/aws.py does): the plan is a list of `Call`s whose parameters may
name the result of an earlier call (`Ref`), so `--dry-run` prints the same plan that a run executes.
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bundler.errors import CloudError, ProjectError, SizeLimitError

DIRECT_UPLOAD_MAX = 52_428_800  # bytes: the largest zip UpdateFunctionCode / PublishLayerVersion take inline
UNZIPPED_MAX = 262_144_000  # bytes: function code and all its layers, unzipped
EXEC_WRAPPER_VAR = "AWS_LAMBDA_EXEC_WRAPPER"
DIGEST_MARK = "photon-bundle content-digest "  # the layer description: this, then the layer's content digest


@dataclass(frozen=True)
class Ref:
    """A value known only once an earlier call has run: `call`'s result at `key`."""

    call: str
    key: str

    def __str__(self) -> str:
        return f"<{self.key} from {self.call}>"


@dataclass(frozen=True)
class Upload:
    """A zip's bytes as a call parameter: read from `path` when the call runs, never printed."""

    path: str
    size: int

    def __str__(self) -> str:
        return f"<{posixpath.basename(self.path)}: {self.size:,} bytes>"


@dataclass(frozen=True)
class Call:
    """One AWS API call (`wait` is a boto3 waiter, not an API operation)."""

    service: str  # lambda | s3 | wait
    operation: str  # the API name: UpdateFunctionCode, PutObject, or the waiter's name
    params: dict[str, Any]
    why: str = ""

    def describe(self) -> str:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.params.items())
        return f"{self.service} {self.operation}({shown})" + (f"  # {self.why}" if self.why else "")


def _show(value: Any) -> str:
    if isinstance(value, (Ref, Upload)):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)


@dataclass(frozen=True)
class Artifact:
    path: str  # absolute path of the zip
    name: str  # its name in the manifest (function.zip, layer.zip)
    kind: str  # function | layer
    sha256: str  # hex, of the zip file
    content_digest: str
    zipped_bytes: int
    unzipped_bytes: int

    @property
    def code_sha256(self) -> str:
        """The zip's sha256 as Lambda reports it (CodeSha256): base64 of the digest bytes."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode("ascii")


@dataclass(frozen=True)
class Request:
    """What the user asked for (flags), apart from the manifest."""

    function: str
    layer_name: str
    s3_bucket: str | None = None
    s3_prefix: str = ""
    via_s3: bool = False
    publish_version: bool = False
    alias: str | None = None
    create: bool = False
    role: str | None = None
    handler: str | None = None
    region: str = ""


@dataclass(frozen=True)
class Bundle:
    """The parts of a lambda manifest a publish uses."""

    runtime: str
    arch: str
    function: Artifact | None
    layer: Artifact | None
    exec_wrapper: str | None
    entries: tuple[str, ...] = ()


@dataclass
class Deployed:
    """What AWS has now (read before planning); None for a function that does not exist."""

    function: dict[str, Any] | None  # GetFunction's Configuration
    layer_arn: str | None = None  # a version of our layer holding this content digest
    s3_objects: dict[str, str | None] = field(default_factory=dict)  # key -> sha256 metadata, for keys present
    latest_version: dict[str, Any] | None = None  # the newest published version's configuration
    alias_version: str | None = None  # the alias's FunctionVersion, None when there is no alias
    alias_exists: bool = False


def bundle_from_manifest(doc: Mapping[str, Any], out_dir: str) -> Bundle:
    """The function and layer artifacts, runtime, arch and exec wrapper of a lambda manifest."""
    if doc.get("platform") != "lambda":
        raise ProjectError(f"{out_dir}/manifest.json is a {doc.get('platform')!r} bundle, not a lambda one",
                           hint="publish lambda reads `photon-bundle lambda`'s output folder (--out)")
    found: dict[str, Artifact] = {}
    for a in doc["artifacts"]:
        kind = a.get("kind") or ("layer" if a["path"] == "layer.zip" else "function")
        found[kind] = Artifact(path=posixpath.join(out_dir, a["path"]), name=a["path"], kind=kind, sha256=a["sha256"],
                               content_digest=str(a.get("content_digest") or a["sha256"]),
                               zipped_bytes=int(a["zipped_bytes"]), unzipped_bytes=int(a.get("unzipped_bytes", 0)))
    engine = doc.get("engine") or {}
    entries = tuple(str(e["path"]) for e in (doc.get("load_check") or {}).get("entries", [])
                    if isinstance(e, dict) and isinstance(e.get("path"), str))
    return Bundle(runtime=str(doc["runtime"]), arch=str(doc.get("arch") or "x86_64"), function=found.get("function"),
                  layer=found.get("layer"), exec_wrapper=engine.get("exec_wrapper") if found.get("layer") else None,
                  entries=entries)


def default_handler(bundle: Bundle) -> str:
    """file.handler for the first entry point the bundle load-checked (handler.js -> handler.handler)."""
    for entry in bundle.entries:
        stem = entry.rsplit(".", 1)[0]
        return f"{stem}.handler"
    return "index.handler"


def check_sizes(bundle: Bundle, request: Request) -> None:
    """The Lambda limits, before anything is uploaded: unzipped function + layer, and the direct-upload limit
    for a zip when no S3 bucket is given."""
    arts = [a for a in (bundle.function, bundle.layer) if a]
    unzipped = sum(a.unzipped_bytes for a in arts)
    if unzipped > UNZIPPED_MAX:
        raise SizeLimitError(
            f"{' + '.join(a.name for a in arts)}: {unzipped:,} bytes unzipped, over Lambda's limit of "
            f"{UNZIPPED_MAX:,} bytes for a function and its layers together; nothing was uploaded",
            hint="leave files out (--exclude) or move to a container image; a layer does not help this limit")
    for a in arts:
        if a.zipped_bytes > DIRECT_UPLOAD_MAX and not request.s3_bucket:
            raise SizeLimitError(
                f"{a.name} is {a.zipped_bytes:,} bytes zipped, over the {DIRECT_UPLOAD_MAX:,}-byte limit of a direct "
                "upload to Lambda; nothing was uploaded",
                hint="pass --s3-bucket BUCKET (in the function's region): the zip then goes through S3")


def through_s3(artifact: Artifact, request: Request) -> bool:
    return bool(request.s3_bucket) and (request.via_s3 or artifact.zipped_bytes > DIRECT_UPLOAD_MAX)


def s3_key(artifact: Artifact, request: Request) -> str:
    """Objects are keyed by content digest: the same contents are one object, uploaded once."""
    return f"{request.s3_prefix}{artifact.content_digest}/{artifact.name}"


def code_param(artifact: Artifact, request: Request) -> dict[str, Any]:
    if through_s3(artifact, request):
        return {"S3Bucket": request.s3_bucket, "S3Key": s3_key(artifact, request)}
    return {"ZipFile": Upload(artifact.path, artifact.zipped_bytes)}


def layer_description(artifact: Artifact) -> str:
    return DIGEST_MARK + artifact.content_digest


def layer_matches(description: str | None, artifact: Artifact) -> bool:
    return description == layer_description(artifact)


def desired_layers(current: list[str], layer_arn: Any, layer_name: str) -> list[Any]:
    """The function's layers with ours replaced (any version of it) or added last; the others kept in order."""
    ours = f":layer:{layer_name}:"
    kept: list[Any] = [arn for arn in current if ours not in arn]
    return [*kept, layer_arn]


def desired_environment(current: Mapping[str, str], wrapper: str | None) -> dict[str, str]:
    env = dict(current)
    if wrapper:
        env[EXEC_WRAPPER_VAR] = wrapper
    return env


def current_layers(config: Mapping[str, Any]) -> list[str]:
    return [str(layer["Arn"]) for layer in config.get("Layers") or []]


def current_environment(config: Mapping[str, Any]) -> dict[str, str]:
    return dict((config.get("Environment") or {}).get("Variables") or {})


def plan(bundle: Bundle, request: Request, deployed: Deployed) -> list[Call]:
    """The calls that bring the function to the bundle; an empty list when it is there already."""
    check_sizes(bundle, request)
    calls = _uploads(bundle, request, deployed)
    fn = request.function
    layer_arn: Any = None
    if bundle.layer:
        if deployed.layer_arn:
            layer_arn = deployed.layer_arn
        else:
            calls.append(Call("lambda", "PublishLayerVersion", {
                "LayerName": request.layer_name, "Description": layer_description(bundle.layer),
                "Content": code_param(bundle.layer, request), "CompatibleRuntimes": [bundle.runtime],
                "CompatibleArchitectures": [bundle.arch]}, "no version of the layer holds this content digest"))
            layer_arn = Ref("PublishLayerVersion", "LayerVersionArn")
    config = deployed.function
    if config is None:
        if not request.create:
            raise CloudError(f"ResourceNotFoundException: no Lambda function {fn!r} in region {request.region or '?'}",
                             hint="check the name and AWS_REGION, or pass --create --role ROLE_ARN to create it")
        create: dict[str, Any] = {
            "FunctionName": fn, "Runtime": bundle.runtime, "Role": request.role,
            "Handler": request.handler or default_handler(bundle), "Architectures": [bundle.arch],
            "PackageType": "Zip"}
        if bundle.function:
            create["Code"] = code_param(bundle.function, request)
        if layer_arn is not None:
            create["Layers"] = [layer_arn]
            create["Environment"] = {"Variables": desired_environment({}, bundle.exec_wrapper)}
        if request.publish_version or request.alias:
            create["Publish"] = True
        calls.append(Call("lambda", "CreateFunction", create, "--create: the function does not exist"))
        calls.append(Call("wait", "function_active_v2", {"FunctionName": fn}, "until State is Active"))
        version: Any = Ref("CreateFunction", "Version") if create.get("Publish") else None
        return calls + _alias_calls(request, deployed, version)
    changed = False
    if bundle.function and config.get("CodeSha256") != bundle.function.code_sha256:
        calls.append(Call("lambda", "UpdateFunctionCode", {"FunctionName": fn, **code_param(bundle.function, request)},
                          f"deployed CodeSha256 {config['CodeSha256']} differs" if config.get("CodeSha256")
                          else "when the deployed CodeSha256 differs"))
        calls.append(Call("wait", "function_updated_v2", {"FunctionName": fn}, "until LastUpdateStatus is Successful"))
        changed = True
    if layer_arn is not None:
        layers, env = current_layers(config), current_environment(config)
        want_layers = desired_layers(layers, layer_arn, request.layer_name)
        want_env = desired_environment(env, bundle.exec_wrapper)
        if want_layers != layers or want_env != env:
            calls.append(Call("lambda", "UpdateFunctionConfiguration", {
                "FunctionName": fn, "Layers": want_layers, "Environment": {"Variables": want_env}},
                "attach the layer and set the exec wrapper; other layers and variables kept"))
            calls.append(Call("wait", "function_updated_v2", {"FunctionName": fn},
                              "until LastUpdateStatus is Successful"))
            changed = True
    version = None
    if request.publish_version or request.alias:
        latest = deployed.latest_version
        if changed or latest is None or not _same_version(latest, config):
            calls.append(Call("lambda", "PublishVersion", {"FunctionName": fn},
                              "a new version of what was deployed" if changed else "no version holds $LATEST"))
            version = Ref("PublishVersion", "Version")
        else:
            version = str(latest["Version"])
    return calls + _alias_calls(request, deployed, version)


def _uploads(bundle: Bundle, request: Request, deployed: Deployed) -> list[Call]:
    """PutObject for each zip that goes through S3, is not there yet, and is not deployed already."""
    calls = []
    for a in (bundle.layer, bundle.function):
        if a and through_s3(a, request) and not _s3_has(deployed, a, request):
            needed = a is bundle.function and (deployed.function is None
                                               or deployed.function.get("CodeSha256") != a.code_sha256)
            needed = needed or (a is bundle.layer and deployed.layer_arn is None)
            if needed:
                calls.append(Call("s3", "PutObject", {"Bucket": request.s3_bucket, "Key": s3_key(a, request),
                                                      "Body": Upload(a.path, a.zipped_bytes),
                                                      "Metadata": {"sha256": a.sha256}},
                                  f"{a.name} is keyed by its content digest"))
    return calls


def _same_version(published: Mapping[str, Any], latest: Mapping[str, Any]) -> bool:
    return (published.get("CodeSha256") == latest.get("CodeSha256")
            and current_layers(published) == current_layers(latest)
            and current_environment(published) == current_environment(latest))


def _alias_calls(request: Request, deployed: Deployed, version: Any) -> list[Call]:
    if not request.alias or version is None:
        return []
    params = {"FunctionName": request.function, "Name": request.alias, "FunctionVersion": version}
    if not deployed.alias_exists:
        return [Call("lambda", "CreateAlias", params, "the alias does not exist")]
    if isinstance(version, Ref) or deployed.alias_version != version:
        return [Call("lambda", "UpdateAlias", params, f"the alias points to version {deployed.alias_version}")]
    return []


def _s3_has(deployed: Deployed, artifact: Artifact, request: Request) -> bool:
    return deployed.s3_objects.get(s3_key(artifact, request), "") == artifact.sha256
