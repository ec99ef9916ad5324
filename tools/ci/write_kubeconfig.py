"""Write a stack's kubeconfig (a stack output) to a private file for kubectl and the status tool.

The kubeconfig holds the cluster's CA and an exec user, no credential (components/cluster_auth.py):
kubectl runs tools/kube-credential whenever it needs one, which hands over the job's GitHub OIDC
token inside Actions or mints a one-hour certificate through the bastion elsewhere. This reads the
output through the Automation API, makes the plugin's path absolute (kubectl may run from any
directory), writes the file with mode 0600 and prints only the path.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pulumi.automation import OutputValue

from components.cluster_auth import with_absolute_plugin

ROOT = Path(__file__).resolve().parent.parent.parent

OutputsLoader = Callable[[str, Path], Mapping[str, OutputValue]]


def load_outputs(stack: str, work_dir: Path) -> Mapping[str, OutputValue]:
    """The stack's outputs as Automation API OutputValues (`.value`, `.secret`: pulumi/automation/_output.py)."""
    from pulumi import automation as auto

    return auto.select_stack(stack_name=stack, work_dir=str(work_dir)).outputs()


def write_secret_output(outputs: Mapping[str, OutputValue], key: str, target: Path) -> None:
    """Write output `key` to `target` (0600, never printed); it must exist and be a secret."""
    if key not in outputs:
        raise ValueError(f"the stack has no output {key!r}; has `pulumi up` finished?")
    item = outputs[key]
    if not isinstance(item, OutputValue) or not item.secret:
        # A plain kubeconfig output would already be in the state in clear text: refuse to treat
        # it as normal, the program must export it with pulumi.Output.secret.
        raise ValueError(f"stack output {key!r} is not a secret; export it as a secret")
    value = item.value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"stack output {key!r} is empty")
    if key == "kubeconfig":
        value = with_absolute_plugin(value)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    os.chmod(target, 0o600)


def main(argv: Sequence[str] | None = None, loader: OutputsLoader = load_outputs) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", required=True, help="stack name, e.g. dev")
    parser.add_argument("--output", required=True, type=Path, help="file to create (mode 0600)")
    parser.add_argument("--key", default="kubeconfig", help="secret stack output to write (default: kubeconfig)")
    parser.add_argument("--work-dir", type=Path, default=ROOT, help="directory holding Pulumi.yaml")
    args = parser.parse_args(argv)
    try:
        outputs = loader(args.stack, args.work_dir)
        write_secret_output(outputs, args.key, args.output)
    except ValueError as exc:
        print(f"write_kubeconfig: {exc}", file=sys.stderr)
        return 1
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
