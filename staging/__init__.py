"""Code that runs inside the Hub -> S3 staging job; imports nothing of the CDK app."""
