"""Entry point Pulumi runs for `--policy-pack policy`: wraps the rules of policies.py in a pack.

Kept free of logic so the rules stay importable and testable without an engine; every policy is
mandatory, so a violation fails `pulumi preview` in the PR check and stops `pulumi up`.
"""

from __future__ import annotations

from policies import POLICIES, STACK_POLICY, PolicySpec, check_stack
from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)


def _validator(spec: PolicySpec) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in spec.check(args):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=spec.name,
        description=spec.description,
        validate=validate,
        config_schema=spec.config_schema,
        remediation_steps=spec.remediation,
    )


def _validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for message in check_stack(args.resources):
        report_violation(message, None)


PolicyPack(
    name="gitops-cluster-policies",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *(_validator(spec) for spec in POLICIES),
        StackValidationPolicy(
            name=STACK_POLICY.name,
            description=STACK_POLICY.description,
            validate=_validate_stack,
            remediation_steps=STACK_POLICY.remediation,
        ),
    ],
)
