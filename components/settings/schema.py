"""The typed schema of every section, in pydantic v2: which keys a section has and their types.

Each section's rules (network.py, nodes.py, ...) validate its values against its model here first:
pydantic owns the key names (an unknown key is refused with "did you mean"), the types (strict:
`true` is not a number, `40.0` is not a whole number, `"3"` is not a count, `1.30` is not a version)
and, for node rows, the simple bounds; it collects every refused field at once. Its errors never
reach the user as they are: :func:`section` and :func:`check` return the refused fields with
pydantic's error type, and the section turns each into a Problem in the project's wording (key as
typed, value, fix). What a type cannot say (a CIDR inside the VPC, unique node names, a pinned
version) stays in the section's rules.

Where each model's fields come from:

- the flat sections (NetworkKeys ... DataKeys): one field per key Pulumi.yaml declares, with the
  Python type of its declared type and no default. Pulumi.yaml stays the only home of the types and
  defaults (keys.with_defaults applies the defaults before validation); tests/unit/
  test_settings_schema.py holds these models equal to the declarations, and the union of their
  fields is the table the unknown-key check reads (:func:`scalar_keys`).
- the node table (NodeRow, TaintRow): Pulumi.yaml cannot declare structured keys, so their fields
  live here, the only home; the same test holds the README's and Pulumi.dev.yaml's rows to them.
- the version overrides (:func:`versions_model`): made from versions.yaml's keys, their only home.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, create_model

from components.settings.messages import did_you_mean

MAX_NODES = 500


class _Section(BaseModel):
    """Strict, closed, frozen: no coercion, no unknown field, no change after validation."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# A flat section's field is a key as the user types it (camelCase, hence the noqa: N815).
class NetworkKeys(_Section):
    """network.py: the VPC, its zones and subnets, the access lists, the pod and service ranges."""

    clusterName: str  # noqa: N815
    vpcCidr: str  # noqa: N815
    azCount: int  # noqa: N815
    publicSubnetCidrs: list[str]  # noqa: N815
    privateSubnetCidrs: list[str]  # noqa: N815
    natGatewayPerAz: bool  # noqa: N815
    adminCidrs: list[str]  # noqa: N815
    apiCidrs: list[str]  # noqa: N815
    allowBroadAccessCidrs: bool  # noqa: N815
    podCidr: str  # noqa: N815
    serviceCidr: str  # noqa: N815


class BastionKeys(_Section):
    """bastion.py: the bastion's type, and sshPublicKey, retired (refused when set)."""

    bastionInstanceType: str  # noqa: N815
    sshPublicKey: str  # noqa: N815


class GitOpsKeys(_Section):
    """gitops.py: the repository ArgoCD reads, how it follows it, and the path of the Applications."""

    gitopsRepoUrl: str  # noqa: N815
    environment: str
    gitopsMode: str  # noqa: N815
    gitopsRevision: str  # noqa: N815
    gitopsPath: str  # noqa: N815


class ArgoCdKeys(_Section):
    """argocd.py: the UI's host, the admin password's version, GitHub SSO (its secret is apart)."""

    argocdDomain: str  # noqa: N815
    argocdAdminPasswordVersion: int  # noqa: N815
    argocdGithubOrg: str  # noqa: N815
    argocdGithubAdminTeam: str  # noqa: N815
    argocdGithubClientId: str  # noqa: N815


class EdgeKeys(_Section):
    """edge.py: the public DNS names, the media bucket and CDN, the domain APIs' autoscaling bounds."""

    dnsZone: str  # noqa: N815
    dnsDomain: str  # noqa: N815
    apiHost: str  # noqa: N815
    argocdHost: str  # noqa: N815
    grafanaHost: str  # noqa: N815
    imagesHost: str  # noqa: N815
    media: bool
    mediaCorsOrigins: list[str]  # noqa: N815
    mediaBucketDeleteOnDestroy: bool  # noqa: N815
    apiMinReplicas: int  # noqa: N815
    apiMaxReplicas: int  # noqa: N815


class DataKeys(_Section):
    """data.py: how the datastores are backed up beyond what always runs."""

    postgresqlVolumeSnapshots: bool  # noqa: N815


class CiKeys(_Section):
    """ci.py: the GitHub repository whose Actions OIDC tokens the API server accepts."""

    ciGithubRepository: str  # noqa: N815


class ApiServerOidcKeys(_Section):
    """apiserver_oidc.py: people's OIDC issuer at the API server and the groups' rights."""

    apiServerOidcIssuerUrl: str  # noqa: N815
    apiServerOidcClientId: str  # noqa: N815
    apiServerOidcUsernameClaim: str  # noqa: N815
    apiServerOidcGroupsClaim: str  # noqa: N815
    apiServerOidcExtraScopes: list[str]  # noqa: N815
    apiServerOidcAdminGroups: list[str]  # noqa: N815
    apiServerOidcEditGroups: list[str]  # noqa: N815
    apiServerOidcViewGroups: list[str]  # noqa: N815


# The flat sections, in the order their problems are listed (a key belongs to exactly one).
SCALAR_SECTIONS: tuple[type[_Section], ...] = (
    NetworkKeys,
    BastionKeys,
    GitOpsKeys,
    ArgoCdKeys,
    EdgeKeys,
    DataKeys,
    CiKeys,
    ApiServerOidcKeys,
)


def scalar_keys() -> frozenset[str]:
    """Every key of the flat sections: what Pulumi.yaml declares (a test holds the two equal)."""
    return frozenset(name for model in SCALAR_SECTIONS for name in model.model_fields)


class NodeRow(_Section):
    """One row of `gitops-cluster:nodes`: a node, or a pool of `count` nodes name-1 ... name-N."""

    # A DNS label (lowercase letters, digits, '-'), at most 40 characters.
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=40)]
    role: Literal["control-plane", "api", "worker", "infrastructure"]  # NodeRole's values (a test holds them)
    # The EC2 type's spelling is a rule of values.py (check_instance_type); here it is text.
    instanceType: str  # noqa: N815 - the key as the user types it
    rootVolumeGb: Annotated[int, Field(ge=20, le=16384)]  # noqa: N815
    count: Annotated[int, Field(ge=1, le=MAX_NODES)] = 1
    # Their entries are checked one by one by the rules (a reserved key, a null value), so that
    # each bad entry is named; here only the container's type.
    labels: dict[Any, Any] | None = None
    taints: list[Any] | None = None
    # An AZ index, a zone letter, or a list of them for a pool (rules: nodes.py).
    zone: Any = None


class TaintRow(_Section):
    key: Any
    value: Any = ""
    effect: Any


@dataclass(frozen=True)
class Checked:
    """What the schema made of one row: the fields it refused (with pydantic's error type) and the
    keys it does not know (with a did-you-mean hint each)."""

    refused: Mapping[str, str]
    unknown: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return not self.refused and not self.unknown


@cache
def _versions_model(names: tuple[str, ...]) -> type[BaseModel]:
    fields_: dict[str, Any] = dict.fromkeys(names, (str, None))
    return create_model("Versions", __base__=_Section, **fields_)


def versions_model(names: Iterable[str]) -> type[BaseModel]:
    """The model of a `versions` mapping: every key of versions.yaml (their only home), each a text pin."""
    return _versions_model(tuple(sorted(names)))


@dataclass(frozen=True)
class Section:
    """A flat section's values as the schema found them: `raw[key]` as given, `refused[key]`
    pydantic's error type for each key whose value is not of its type (or is missing)."""

    raw: Mapping[str, Any]
    refused: Mapping[str, str]

    def ok(self, key: str) -> bool:
        return key not in self.refused

    def __getitem__(self, key: str) -> Any:
        return self.raw.get(key)


def fields(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(model.model_fields)


def _refused(model: type[BaseModel], given: Mapping[str, Any]) -> dict[str, str]:
    refused: dict[str, str] = {}
    try:
        model.model_validate(given)
    except ValidationError as exc:
        for error in exc.errors():
            # A field's own error, or the first error inside it (a row missing a key: loc is the field).
            refused.setdefault(str(error["loc"][0]) if error["loc"] else "", error["type"])
    return refused


def section(model: type[BaseModel], values: Mapping[str, Any]) -> Section:
    """Validate a flat section's keys of `values` (the other sections' keys are not its business)."""
    raw = {k: values[k] for k in model.model_fields if k in values}
    return Section(raw, _refused(model, raw))


def check(model: type[BaseModel], row: Mapping[Any, Any], what: str = "allowed keys are") -> Checked:
    """Validate `row` against `model`, collecting every problem instead of stopping at the first.

    `what` introduces the list of known keys when no known key is near an unknown one."""
    known = fields(model)
    unknown = sorted(str(k) for k in row if k not in known)
    hints = tuple((u, did_you_mean(u, known, what)) for u in unknown)
    return Checked(_refused(model, {k: v for k, v in row.items() if k in known}), hints)
