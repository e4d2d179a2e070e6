"""Foundation-model evaluation that runs inside a SageMaker processing job (container built from evaluation/Dockerfile).

Pure Python with boto3 and jmespath; fmeval (with torch) is used for scoring where it is installed, i.e. in the
container. The metric catalog (`evaluation.catalog`) is also what the CDK config validates thresholds against.
"""
