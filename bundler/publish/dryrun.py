"""`publish --dry-run`: the reads a run makes and the most it would write, planned without asking AWS."""

from __future__ import annotations

from bundler.publish.plan import Bundle, Call, Deployed, Request, plan, s3_key, through_s3


def dry_run_calls(bundle: Bundle, request: Request) -> tuple[list[Call], list[Call]]:
    """(reads, writes): the writes planned as if the function existed with nothing of this bundle deployed
    (or, with --create, as if it were missing); a run skips each write AWS already has."""
    fn = request.function
    reads = [Call("lambda", "GetFunction", {"FunctionName": fn})]
    if bundle.layer:
        reads.append(Call("lambda", "ListLayerVersions", {"LayerName": request.layer_name},
                          "a version whose description holds the layer's content digest"))
    for a in (bundle.layer, bundle.function):
        if a and through_s3(a, request):
            reads.append(Call("s3", "HeadObject", {"Bucket": request.s3_bucket, "Key": s3_key(a, request)}))
    if request.publish_version or request.alias:
        reads.append(Call("lambda", "ListVersionsByFunction", {"FunctionName": fn}))
        if request.alias:
            reads.append(Call("lambda", "GetAlias", {"FunctionName": fn, "Name": request.alias}))
    deployed = Deployed(function=None if request.create else {})
    return reads, plan(bundle, request, deployed)
