"""Composition root: an empty AWS account to a GitOps-managed kubeadm cluster in one `pulumi up`.

Why this file is thin: every decision lives in a component or a pure helper under components/,
where it is typed and tested; here the stack's settings are loaded (and validated, before any
resource is registered), the components are built in dependency order, and the outputs contract
that CI reads is exported. The order below *is* the graph:

    settings -> Network -> ClusterSecurity -> ClusterNodes -> ClusterAccess
             -> AnsibleBootstrap (kubeconfig) -> ArgoCd (Helm release -> root Application)

Only the Pulumi engine (or the mock runtime of the tests) can run it: `python __main__.py` has no
engine to register resources with, so it says how to run the program instead of reporting the
stack's configuration as missing.
"""

from __future__ import annotations

import sys

from pulumi.runtime.settings import get_monitor

from components.settings.glue import load_settings
from components.stack import build_stack, export_outputs

NOT_UNDER_THE_ENGINE = (
    "__main__.py is a Pulumi program and runs under the Pulumi engine: use `make up` or `make preview` "
    "(Pulumi CLI + AWS credentials), `make preview-offline` to see what it would create without either, "
    "or `make test`."
)

if get_monitor() is None:
    sys.exit(NOT_UNDER_THE_ENGINE)

settings, secrets = load_settings()
export_outputs(build_stack(settings, secrets))
