"""The shared cache on S3 (`cache = "s3://bucket/prefix"`, `--cache`): engines and whole artifacts shared by a fleet
of CI runners.

location.py names the objects (pure), store.py moves verified objects between S3 (through bundler/aws.py, the one
AWS seam) and local files, engines.py is the engine step between the local caches and the mirror, artifacts.py
fetches a bundle by its inputs fingerprint instead of building it and uploads what a run built.

Layout under `s3://bucket/prefix/`:

    engines/<version>/<target>/<file>    an engine, its sha256 in the object's metadata
    blobs/<sha256>                       an artifact zip, named by its own sha256
    artifacts/<fingerprint>.json         the index: the manifest and the blob of each artifact; written last

Each S3 PUT is atomic (a reader gets the whole old object or the whole new one), so the only torn state two
objects could show is an index whose blobs are not there yet; the index is written after its blobs, and the
blobs are named by their sha256, so any writer of a blob key writes the same bytes. Every object is checked on
the way down against the sha256 recorded with it (and an artifact's contents against this run's plan); one
that does not match is refused, the runner builds, and its upload replaces the bad object.
"""
