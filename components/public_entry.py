"""The backend's public entry: an Application Load Balancer in front of the cluster's Gateway API data plane.

Every AWS part is in the graph (issue 19; DESIGN.md: the old system's destroy hung on load
balancers an in-cluster controller made outside Terraform): the ALB, its listeners and rules, the
ACM certificate with its DNS validation records, the target groups with one attachment per gateway
node, and the Route53 alias records. Inside the cluster, Envoy Gateway's data plane runs on the
nodes the node table labels `gitops-cluster.io/edge=gateway` and is exposed on fixed NodePorts, one
per Gateway listener (manifests/infrastructure/gateway): the ALB routes by host name to one target
group per NodePort, so the Gateway in Git needs no domain name (the domain is stack config).

Two shapes (docs/reaching-the-apis.md):

- with `dnsZone` + `dnsDomain`: HTTPS on 443 (TLS 1.2/1.3, `TLS_POLICY`) for `api.`, `argocd.` and
  `grafana.<domain>` (the names are config: `apiHost`, `argocdHost`, `grafanaHost`), 80 redirects
  to 443; the security group admits 443/80 from the internet. The admin UIs are admitted only from
  `adminCidrs` by listener rules on the source address (Argo CD from anywhere once GitHub SSO is
  configured: its login is then the gate); a request for an admin host from elsewhere gets 403.
- without them: plain HTTP on the ALB's own DNS name, admitted only from `adminCidrs` (the security
  group): the APIs on 80, Argo CD on 8081, Grafana on 8082. The preview warns about it.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.security import GATEWAY_NODE_PORTS, PLAIN_ADMIN_PORTS
from components.settings.model import PublicDns

TYPE_TOKEN = "gitops-cluster:public_entry:PublicEntry"  # noqa: S105 (a Pulumi type token)

# AWS's recommended ALB policy (TLS 1.3 and 1.2, restricted ciphers, hybrid post-quantum key
# exchange): the console's default for new HTTPS listeners. Checked 2026-12-07 in the AWS ELB docs
# ("Security policies for your Application Load Balancer", describe-ssl-policies).
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"

# The node label that places the data plane (EnvoyProxy's nodeSelector in
# manifests/infrastructure/gateway/envoyproxy.yaml) and selects the ALB's targets.
GATEWAY_NODE_LABEL = ("gitops-cluster.io/edge", "gateway")

# ALB rule conditions take at most five values in all: the host name plus four source ranges a rule.
_SOURCE_VALUES_PER_RULE = 4


@dataclass(frozen=True)
class Backend:
    """One Gateway listener: its NodePort (fixed in the EnvoyProxy's Service patch) and how it is reached."""

    key: str  # api, argocd, grafana: also its host name's key (PublicHosts, config `<key>Host`)
    # The target group's name suffix: AWS caps target group names at 32 characters and Pulumi's
    # autoname adds 8, so with a 20-character clusterName a suffix has 4 (components/access.py).
    suffix: str
    node_port: int
    # The plain-HTTP listener port of a stack without a domain.
    plain_port: int
    admin: bool  # an admin UI: admitted only from adminCidrs (unless opened by SSO)


BACKENDS: tuple[Backend, ...] = (
    Backend("api", "-wap", GATEWAY_NODE_PORTS[0], 80, admin=False),
    Backend("argocd", "-wcd", GATEWAY_NODE_PORTS[0] + 1, PLAIN_ADMIN_PORTS[0], admin=True),
    Backend("grafana", "-wgf", GATEWAY_NODE_PORTS[1], PLAIN_ADMIN_PORTS[1], admin=True),
)
# Answered by Envoy itself on every listener (ClientTrafficPolicy healthCheck in Git).
HEALTH_PATH = "/healthz"


@dataclass(frozen=True)
class PublicEntryArgs:
    cluster_name: str
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    # Node name -> instance id of the nodes that run the data plane.
    gateway_instance_ids: Mapping[str, pulumi.Input[str]]
    admin_cidrs: Sequence[ipaddress.IPv4Network]
    dns: PublicDns | None = None
    # The zone's id (hosted_zone_id, looked up before any resource); set with `dns`.
    zone_id: str | None = None
    # GitHub SSO for Argo CD is configured: its host is admitted from anywhere.
    argocd_open: bool = False


def source_chunks(cidrs: Sequence[ipaddress.IPv4Network]) -> list[list[str]]:
    """adminCidrs in groups an ALB rule condition can hold next to its host-header value."""
    values = [str(c) for c in cidrs]
    return [values[i : i + _SOURCE_VALUES_PER_RULE] for i in range(0, len(values), _SOURCE_VALUES_PER_RULE)]


def urls(dns: PublicDns | None, lb_dns_name: str) -> dict[str, str]:
    """The URL people open for each backend (the stack outputs apiUrl, argocdUrl, grafanaUrl)."""
    if dns is not None:
        return {b.key: f"https://{dns.fqdn(b.key)}" for b in BACKENDS}
    return {b.key: f"http://{lb_dns_name}" + ("" if b.plain_port == 80 else f":{b.plain_port}") for b in BACKENDS}


class PublicEntry(pulumi.ComponentResource):
    """The ALB that serves the APIs and the admin UIs, and (with a domain) its certificate and records.

    Creates: an internet-facing ALB over the public subnets (its own security group, from
    components/security.py, HTTP/2, invalid header fields dropped, deletion protection off so
    destroy removes it); one HTTP target group per Gateway listener (`BACKENDS`, health check
    `HEALTH_PATH` on the NodePort) and one attachment per gateway node and target group.
    With a domain: the ACM certificate for the three names, a CNAME validation record per name in
    the zone, the CertificateValidation that waits for ACM, the HTTPS listener (`TLS_POLICY`,
    default 404) with host rules (admin hosts limited by source address, else 403), the HTTP
    listener that redirects to HTTPS, and an alias A record per name. Without one: an HTTP listener
    per backend port (80, 8081, 8082) forwarding to its target group.
    """

    load_balancer: aws.lb.LoadBalancer
    dns_name: pulumi.Output[str]
    urls: pulumi.Output[dict[str, str]]
    target_groups: dict[str, aws.lb.TargetGroup]
    certificate_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: PublicEntryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        lb_name = f"{name}-web"
        self.load_balancer = aws.lb.LoadBalancer(
            lb_name,
            load_balancer_type="application",
            internal=False,
            subnets=list(args.public_subnet_ids),
            security_groups=[args.security_group_id],
            enable_http2=True,
            drop_invalid_header_fields=True,
            enable_deletion_protection=False,
            idle_timeout=60,
            tags={"Name": lb_name, "endpoint": "web"},
            opts=child,
        )
        self.dns_name = self.load_balancer.dns_name
        self.target_groups = {b.key: self._create_target_group(name, b, args) for b in BACKENDS}
        self.certificate_arn = None
        if args.dns is None:
            self._create_plain_listeners(lb_name)
        else:
            assert args.zone_id is not None, "a domain comes with its zone's id (hosted_zone_id)"
            zone_id = args.zone_id
            self.certificate_arn = self._create_certificate(lb_name, args.dns, zone_id)
            self._create_https(lb_name, args, self.certificate_arn)
            self._create_records(lb_name, args.dns, zone_id)
        dns = args.dns
        self.urls = self.dns_name.apply(lambda host: urls(dns, host))
        self.register_outputs({"dns_name": self.dns_name, "urls": self.urls, "certificate_arn": self.certificate_arn})

    def _create_target_group(self, name: str, backend: Backend, args: PublicEntryArgs) -> aws.lb.TargetGroup:
        child = pulumi.ResourceOptions(parent=self)
        lb_name = f"{name}-web"
        group = aws.lb.TargetGroup(
            f"{name}{backend.suffix}",
            port=backend.node_port,
            protocol="HTTP",
            protocol_version="HTTP1",
            target_type="instance",
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                protocol="HTTP",
                port="traffic-port",
                path=HEALTH_PATH,
                matcher="200",
                interval=10,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=2,
            ),
            tags={"Name": f"{lb_name}-{backend.key}", "backend": backend.key},
            opts=child,
        )
        for node_name, instance_id in sorted(args.gateway_instance_ids.items()):
            aws.lb.TargetGroupAttachment(
                f"{lb_name}-{backend.key}-{node_name}",
                target_group_arn=group.arn,
                target_id=instance_id,
                port=backend.node_port,
                opts=child,
            )
        return group

    def _create_plain_listeners(self, lb_name: str) -> None:
        child = pulumi.ResourceOptions(parent=self)
        for backend in BACKENDS:
            aws.lb.Listener(
                f"{lb_name}-http-{backend.plain_port}",
                load_balancer_arn=self.load_balancer.arn,
                port=backend.plain_port,
                protocol="HTTP",
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="forward", target_group_arn=self.target_groups[backend.key].arn
                    )
                ],
                opts=child,
            )

    def _create_certificate(self, lb_name: str, dns: PublicDns, zone_id: pulumi.Input[str]) -> pulumi.Output[str]:
        return dns_validated_certificate(f"{lb_name}-cert", [dns.fqdn(b.key) for b in BACKENDS], zone_id, self)

    def _create_https(self, lb_name: str, args: PublicEntryArgs, certificate_arn: pulumi.Output[str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        assert args.dns is not None
        https = aws.lb.Listener(
            f"{lb_name}-https",
            load_balancer_arn=self.load_balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate_arn,
            default_actions=[_fixed_response(404, "no such host")],
            opts=child,
        )
        aws.lb.Listener(
            f"{lb_name}-http-redirect",
            load_balancer_arn=self.load_balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS", port="443", status_code="HTTP_301"
                    ),
                )
            ],
            opts=child,
        )
        priority = 10
        for backend in BACKENDS:
            host = aws.lb.ListenerRuleConditionArgs(
                host_header=aws.lb.ListenerRuleConditionHostHeaderArgs(values=[args.dns.fqdn(backend.key)])
            )
            forward = aws.lb.ListenerRuleActionArgs(
                type="forward", target_group_arn=self.target_groups[backend.key].arn
            )
            limited = backend.admin and not (backend.key == "argocd" and args.argocd_open)
            if not limited:
                aws.lb.ListenerRule(
                    f"{lb_name}-{backend.key}",
                    listener_arn=https.arn,
                    priority=priority,
                    conditions=[host],
                    actions=[forward],
                    opts=child,
                )
                priority += 10
                continue
            for i, chunk in enumerate(source_chunks(args.admin_cidrs)):
                aws.lb.ListenerRule(
                    f"{lb_name}-{backend.key}-admin-{i}",
                    listener_arn=https.arn,
                    priority=priority + i,
                    conditions=[
                        host,
                        aws.lb.ListenerRuleConditionArgs(
                            source_ip=aws.lb.ListenerRuleConditionSourceIpArgs(values=chunk)
                        ),
                    ],
                    actions=[forward],
                    opts=child,
                )
            aws.lb.ListenerRule(
                f"{lb_name}-{backend.key}-deny",
                listener_arn=https.arn,
                priority=priority + 9,
                conditions=[host],
                actions=[
                    aws.lb.ListenerRuleActionArgs(
                        type="fixed-response",
                        fixed_response=aws.lb.ListenerRuleActionFixedResponseArgs(
                            content_type="text/plain", message_body="admin UI: not from this address", status_code="403"
                        ),
                    )
                ],
                opts=child,
            )
            priority += 10

    def _create_records(self, lb_name: str, dns: PublicDns, zone_id: pulumi.Input[str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        for backend in BACKENDS:
            alias_record(
                f"{lb_name}-{backend.key}",
                zone_id,
                dns.fqdn(backend.key),
                self.load_balancer.dns_name,
                self.load_balancer.zone_id,
                child,
            )


def _fixed_response(status: int, body: str) -> aws.lb.ListenerDefaultActionArgs:
    return aws.lb.ListenerDefaultActionArgs(
        type="fixed-response",
        fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
            content_type="text/plain", message_body=body, status_code=str(status)
        ),
    )


# --- shared with components/media.py --------------------------------------------------------------


class ZoneNotFoundError(RuntimeError):
    """The stack's hosted zone is not in the account the provider reaches."""


def hosted_zone_id(dns: PublicDns, provider: pulumi.ProviderResource) -> str:
    """The public hosted zone's id, looked up before any resource but the provider is registered.

    A zone the account does not have is known only to AWS: the look-up is the first step that can
    see it, and its message names the key and the fix.
    """
    try:
        zone = aws.route53.get_zone(name=dns.zone, private_zone=False, opts=pulumi.InvokeOptions(provider=provider))
    except Exception as err:  # the provider's "no matching Route 53 Hosted Zone found"
        raise ZoneNotFoundError(
            f"gitops-cluster:dnsZone = {dns.zone!r}: no public Route53 hosted zone of that name in this AWS "
            f"account ({err}); create the zone (and delegate the domain to it), or set dnsZone to a zone "
            "`aws route53 list-hosted-zones` shows."
        ) from err
    if not zone.zone_id:
        raise ZoneNotFoundError(f"gitops-cluster:dnsZone = {dns.zone!r}: the look-up returned no zone id")
    return zone.zone_id


ValidationOption = aws.acm.outputs.CertificateDomainValidationOption


def dns_validated_certificate(
    name: str,
    names: Sequence[str],
    zone_id: pulumi.Input[str],
    parent: pulumi.Resource,
    cert_provider: pulumi.ProviderResource | None = None,
) -> pulumi.Output[str]:
    """An ACM certificate for `names`, one CNAME validation record per name, and the validation wait.

    The records are created per name known now (not inside an apply): each picks its name's entry
    of the certificate's domain_validation_options. `allow_overwrite` because ACM gives the same
    record to every certificate of a name (a re-created certificate, the CDN's in us-east-1).
    `cert_provider`: the certificate's region when it is not the stack's (CloudFront: us-east-1);
    the records stay in the zone through the stack's provider.
    """
    in_region = pulumi.ResourceOptions(parent=parent, provider=cert_provider)
    cert = aws.acm.Certificate(
        name,
        domain_name=names[0],
        subject_alternative_names=list(names[1:]),
        validation_method="DNS",
        key_algorithm="EC_prime256v1",
        opts=in_region,
    )
    fqdns = []
    for i, fqdn in enumerate(names):
        option: pulumi.Output[ValidationOption] = cert.domain_validation_options.apply(
            functools.partial(_option_for, fqdn=fqdn)
        )
        record = aws.route53.Record(
            f"{name}-validation-{i}",
            zone_id=zone_id,
            name=option.apply(lambda o: o.resource_record_name or ""),
            type=option.apply(lambda o: o.resource_record_type or "CNAME"),
            records=[option.apply(lambda o: o.resource_record_value or "")],
            ttl=300,
            allow_overwrite=True,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        fqdns.append(record.fqdn)
    validation = aws.acm.CertificateValidation(
        name, certificate_arn=cert.arn, validation_record_fqdns=fqdns, opts=in_region
    )
    return validation.certificate_arn


def _option_for(options: Sequence[ValidationOption] | None, fqdn: str) -> ValidationOption:
    for option in options or []:
        if option.domain_name == fqdn:
            return option
    # Unknown during a preview of a new certificate (and under the mock runtime): a placeholder
    # whose record fields stay empty until ACM answers.
    return ValidationOption(domain_name=fqdn)


def alias_record(
    name: str,
    zone_id: pulumi.Input[str],
    fqdn: str,
    target_dns_name: pulumi.Input[str],
    target_zone_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> aws.route53.Record:
    """An A alias record. No overwrite: a name the zone already holds fails with AWS's message naming it."""
    return aws.route53.Record(
        name,
        zone_id=zone_id,
        name=fqdn,
        type="A",
        aliases=[
            aws.route53.RecordAliasArgs(name=target_dns_name, zone_id=target_zone_id, evaluate_target_health=True)
        ],
        allow_overwrite=False,
        opts=opts,
    )
