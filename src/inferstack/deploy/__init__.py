"""Deploying the stack elsewhere: rendering the Helm chart from an inferstack.yaml, and the Jobs it runs."""
