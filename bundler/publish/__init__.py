"""`photon-bundle publish`: deploy the artifacts of a bundle to the cloud (AWS Lambda).

plan.py plans the calls (pure), aws.py is the only module that imports boto3, lambda_publish.py reads what is
deployed and runs the plan, source.py finds (or builds) the bundle to publish.
"""
