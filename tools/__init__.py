"""Command-line tools of the gitops-cluster project (run as `python -m tools.<name>`)."""
