"""Code that runs inside a SageMaker training job; imports nothing of the CDK app."""
