"""Helpers the GitHub Actions workflows call (affected stacks, the kubeconfig for the status tool)."""
