"""Composition root: an empty AWS account to a GitOps-managed kubeadm cluster in one `pulumi up`.

Why this file is thin: every decision lives in a component or a pure helper under components/,
where it is typed and tested; here the stack's settings are loaded (and validated, before any
resource is registered), the components are built in dependency order, and the outputs contract
that CI reads is exported. The order below *is* the graph:

    settings -> Network -> ClusterSecurity -> ClusterNodes -> ClusterAccess
             -> AnsibleBootstrap (kubeconfig) -> ArgoCd (Helm release -> root Application)
"""

from __future__ import annotations

from components.config import load_settings
from components.stack import build_stack, export_outputs

settings = load_settings()
export_outputs(build_stack(settings))
