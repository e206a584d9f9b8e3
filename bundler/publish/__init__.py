"""`photon-bundle publish`: deploy the artifacts of a bundle to the cloud (AWS Lambda).

config.py reads the [publish] table and checks the flags, plan.py plans the calls (pure), lambda_publish.py reads
what is deployed and runs the plan through bundler/aws.py (the one module that imports boto3), source.py finds
(or builds) the bundle to publish, functions.py maps a serverless or netlify bundle's functions.
"""
