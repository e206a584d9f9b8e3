"""Bundled and pre-built functions: `--bundler esbuild` and `--prebuilt DIR` (issue 13, parts 1, 2 and 4).

The pipeline calls `prepare` once, after the walk: each unit whose platform config or flags ask for it is
bundled (step.py, through the project's own esbuild: esbuild.py) or taken from a pre-built folder
(prebuilt.py). The unit is rewritten so that the plan ships the bundles instead of the app's files, roots the
dependency closure at the externals only, and places the one engine in the folder beside the bundled client
(PlanOptions.engine_home); the load check then requires the bundle and follows the bundled client's engine
lookup (bundler/_node/check.js, client kind "bundled")."""
