"""The public entry and the media CDN as `pulumi preview` would show them, with and without a domain.

Reads like a review of the preview (tests/conftest.py): the ALB and its listeners, the certificate
and its validation records, the target groups and their attachments, the security groups (nothing
world-open but the ALB's 443 and 80, and those only with a domain), the Route53 records, CloudFront
with OAC and its us-east-1 provider, the media bucket's settings, and the outputs CI reads.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import public_entry
from components.media import CACHING_OPTIMIZED_POLICY_ID, media_reader_policy
from components.public_entry import BACKENDS, TLS_POLICY, source_chunks
from components.security import GATEWAY_NODE_PORTS, RULES
from tests.support.dev_stack import dev_settings
from tools.mockrun import Recording

LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
CERT = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
OAC = "aws:cloudfront/originAccessControl:OriginAccessControl"
PROVIDER = "pulumi:providers:aws"
DOMAIN = {"dnsZone": "example.com", "dnsDomain": "dev.example.com"}
GATEWAY_NODES = {"worker-storage", "worker-ai"}


@pytest.fixture(scope="module")
def with_domain(run_stack: Any) -> Recording:
    rec: Recording = run_stack(DOMAIN)
    return rec


def web_rec(rec: Recording) -> list[Any]:
    return [r for r in rec.resources if r.name.startswith("gitops-dev-web")]


def world_open_ingress(rec: Recording) -> set[tuple[str, int]]:
    names = {r.name: r for r in rec.of_type("aws:ec2/securityGroup:SecurityGroup")}
    by_id = {f"{n}-id": n for n in names}
    return {
        (by_id[r.inputs["securityGroupId"]].removeprefix("gitops-dev-"), r.inputs["fromPort"])
        for r in rec.of_type(INGRESS)
        if r.inputs.get("cidrIpv4") in ("0.0.0.0/0",)
    }


# --- with a domain -----------------------------------------------------------------------------


def test_an_internet_facing_alb_in_the_public_subnets(with_domain: Recording) -> None:
    alb = with_domain.one(LB, "gitops-dev-web")
    assert alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["internal"] is False
    assert len(alb.inputs["subnets"]) == 3
    assert all(s.startswith("gitops-dev-public-") for s in alb.inputs["subnets"]), alb.inputs["subnets"]
    assert alb.inputs["dropInvalidHeaderFields"] is True
    assert alb.inputs["securityGroups"] == ["gitops-dev-web-lb-id"]


def test_https_on_443_with_a_current_tls_policy_and_80_redirects(with_domain: Recording) -> None:
    listeners = {r.inputs["port"]: r for r in with_domain.of_type(LISTENER) if r.name.startswith("gitops-dev-web")}
    assert set(listeners) == {443, 80}
    https = listeners[443].inputs
    assert https["protocol"] == "HTTPS"
    assert https["sslPolicy"] == TLS_POLICY == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    assert https["certificateArn"]
    assert https["defaultActions"][0]["type"] == "fixed-response"
    (redirect,) = listeners[80].inputs["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}


def test_the_certificate_is_dns_validated_in_the_zone_for_every_name(with_domain: Recording) -> None:
    cert = with_domain.one(CERT, "gitops-dev-web-cert")
    names = {cert.inputs["domainName"], *cert.inputs["subjectAlternativeNames"]}
    assert names == {"api.dev.example.com", "argocd.dev.example.com", "grafana.dev.example.com"}
    assert cert.inputs["validationMethod"] == "DNS"
    records = [r for r in with_domain.of_type(RECORD) if r.name.startswith("gitops-dev-web-cert-validation-")]
    assert len(records) == 3
    assert {r.inputs["zoneId"] for r in records} == {"Z0MOCKZONE"}
    assert {r.inputs["name"] for r in records} == {f"_0mock.{n}." for n in names}
    assert all(r.inputs["type"] == "CNAME" for r in records)
    validation = with_domain.one(VALIDATION, "gitops-dev-web-cert")
    assert len(validation.inputs["validationRecordFqdns"]) == 3
    # The listener waits for the validation, not just the certificate request.
    https = next(r for r in with_domain.of_type(LISTENER) if r.inputs["port"] == 443)
    assert with_domain.depends_on(https, validation)


def test_one_target_group_per_backend_on_its_fixed_node_port_with_every_gateway_node(with_domain: Recording) -> None:
    groups = {r.name: r for r in with_domain.of_type(TARGET_GROUP) if r.name.startswith("gitops-dev-w")}
    assert set(groups) == {f"gitops-dev{b.suffix}" for b in BACKENDS}
    assert {g.inputs["port"] for g in groups.values()} == {b.node_port for b in BACKENDS} == {30080, 30081, 30082}
    assert (min(b.node_port for b in BACKENDS), max(b.node_port for b in BACKENDS)) == GATEWAY_NODE_PORTS
    for group in groups.values():
        assert group.inputs["protocol"] == "HTTP"
        assert group.inputs["healthCheck"]["path"] == public_entry.HEALTH_PATH
    attachments = [r for r in with_domain.of_type(ATTACHMENT) if r.name.startswith("gitops-dev-web")]
    assert len(attachments) == len(BACKENDS) * len(GATEWAY_NODES)
    assert {r.inputs["targetId"] for r in attachments} == {f"gitops-dev-{n}-id" for n in GATEWAY_NODES}


def test_admin_hosts_are_admitted_from_admin_cidrs_only(with_domain: Recording) -> None:
    rules = {r.name: r.inputs for r in with_domain.of_type(RULE)}
    api = rules["gitops-dev-web-api"]
    assert api["conditions"] == [{"hostHeader": {"values": ["api.dev.example.com"]}}]
    for ui in ("argocd", "grafana"):
        admin = rules[f"gitops-dev-web-{ui}-admin-0"]
        assert {"sourceIp": {"values": ["203.0.113.0/24"]}} in admin["conditions"]
        deny = rules[f"gitops-dev-web-{ui}-deny"]
        assert deny["actions"][0]["fixedResponse"]["statusCode"] == "403"
        assert deny["priority"] > admin["priority"], "the deny must come after the admitted sources"
    assert len({r["priority"] for r in rules.values()}) == len(rules)


def test_argocd_is_open_with_sso_grafana_stays_admin_only(run_stack: Any) -> None:
    sso = {
        "argocdGithubOrg": "example-org",
        "argocdGithubAdminTeam": "platform",
        "argocdGithubClientId": "Ov23liExample",
    }
    rec = run_stack({**DOMAIN, **sso}, secrets={"argocdGithubClientSecret": "s3cr3t-client"})
    names = {r.name for r in rec.of_type(RULE)}
    assert "gitops-dev-web-argocd" in names and "gitops-dev-web-argocd-deny" not in names
    assert "gitops-dev-web-grafana-deny" in names


def test_source_chunks_fit_an_alb_rule() -> None:
    import ipaddress

    cidrs = [ipaddress.IPv4Network(f"198.51.100.{i * 16}/28") for i in range(9)]
    chunks = source_chunks(cidrs)
    assert [len(c) for c in chunks] == [4, 4, 1]
    assert [c for chunk in chunks for c in chunk] == [str(c) for c in cidrs]


def test_alias_records_for_the_three_names_and_images(with_domain: Recording) -> None:
    aliases = {r.inputs["name"]: r.inputs for r in with_domain.of_type(RECORD) if r.inputs.get("type") == "A"}
    assert set(aliases) == {f"{h}.dev.example.com" for h in ("api", "argocd", "grafana", "images")}
    for name, record in aliases.items():
        assert record["zoneId"] == "Z0MOCKZONE", name
        assert record["allowOverwrite"] is False, f"{name}: a name the zone already has must fail, not be taken over"
    assert aliases["api.dev.example.com"]["aliases"][0]["zoneId"] == "ZWKZPGTI48KDX"
    assert aliases["images.dev.example.com"]["aliases"][0]["name"] == "d111111abcdef8.cloudfront.net"


def test_only_the_albs_443_and_80_are_world_open(with_domain: Recording) -> None:
    assert world_open_ingress(with_domain) == {("web-lb", 443), ("web-lb", 80)}


def test_nodes_accept_the_gateway_node_ports_only_from_the_alb() -> None:
    lo, hi = GATEWAY_NODE_PORTS
    from_outside = [
        r for r in RULES if r.direction == "ingress" and r.group == "cluster" and r.peer not in ("cluster", "bastion")
    ]
    assert [(r.peer, r.from_port, r.to_port) for r in from_outside] == [("web-lb", lo, hi)]
    egress = [r for r in RULES if r.group == "web-lb" and r.direction == "egress"]
    assert [(r.peer, r.from_port, r.to_port) for r in egress] == [("cluster", lo, hi)]


def test_outputs_name_the_https_urls_and_the_media(with_domain: Recording) -> None:
    out = with_domain.stack_outputs
    assert out["apiUrl"] == "https://api.dev.example.com"
    assert out["argocdUrl"] == "https://argocd.dev.example.com"
    assert out["grafanaUrl"] == "https://grafana.dev.example.com"
    assert out["mediaCdnUrl"] == "https://images.dev.example.com"
    assert out["mediaBucket"] == "gitops-dev-media-20261130mock"
    for key in ("apiUrl", "argocdUrl", "grafanaUrl", "mediaBucket", "mediaCdnUrl"):
        assert not any(p.startswith(key) for p in with_domain.stack_output_secret_paths), key


def test_cloudfront_serves_the_bucket_through_oac_with_a_us_east_1_certificate(with_domain: Recording) -> None:
    dist = with_domain.one(DISTRIBUTION, "gitops-dev-media")
    (origin,) = dist.inputs["origins"]
    assert origin["originAccessControlId"] == "gitops-dev-media-id"
    assert "s3OriginConfig" not in origin, "the legacy origin access identity"
    oac = with_domain.one(OAC, "gitops-dev-media")
    assert (
        oac.inputs["originAccessControlOriginType"],
        oac.inputs["signingBehavior"],
        oac.inputs["signingProtocol"],
    ) == (
        "s3",
        "always",
        "sigv4",
    )
    assert dist.inputs["aliases"] == ["images.dev.example.com"]
    viewer = dist.inputs["viewerCertificate"]
    assert viewer["sslSupportMethod"] == "sni-only" and viewer["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert dist.inputs["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
    assert dist.inputs["defaultCacheBehavior"]["cachePolicyId"] == CACHING_OPTIMIZED_POLICY_ID
    (us_east_1,) = [p for p in with_domain.of_type(PROVIDER) if p.inputs.get("region") == "us-east-1"]
    cert = with_domain.one(CERT, "gitops-dev-media-cert")
    assert cert.provider.startswith(us_east_1.urn), cert.provider
    assert with_domain.one(VALIDATION, "gitops-dev-media-cert").provider.startswith(us_east_1.urn)
    # Its validation record is in the zone, through the stack's own provider.
    record = with_domain.one(RECORD, "gitops-dev-media-cert-validation-0")
    assert not record.provider.startswith(us_east_1.urn)
    assert json.loads(us_east_1.inputs["defaultTags"])["tags"]["cluster"] == "gitops-dev"


# --- without a domain (the dev stack) ----------------------------------------------------------


def test_without_a_domain_plain_http_to_admins_only(dev: Recording) -> None:
    assert not dev.of_type(CERT) and not dev.of_type(VALIDATION) and not dev.of_type(RECORD)
    listeners = {r.inputs["port"]: r.inputs for r in dev.of_type(LISTENER) if r.name.startswith("gitops-dev-web")}
    assert set(listeners) == {80, 8081, 8082}
    assert all(listener["protocol"] == "HTTP" for listener in listeners.values())
    assert world_open_ingress(dev) == set()
    names = {r.name: r for r in dev.of_type("aws:ec2/securityGroup:SecurityGroup")}
    web = [r for r in dev.of_type(INGRESS) if r.inputs["securityGroupId"] == f"{names['gitops-dev-web-lb'].name}-id"]
    assert {r.inputs["cidrIpv4"] for r in web} == {"203.0.113.0/24"}
    out = dev.stack_outputs
    host = "gitops-dev-web-0123456789.elb.ap-northeast-2.amazonaws.com"
    assert (out["apiUrl"], out["argocdUrl"], out["grafanaUrl"]) == (
        f"http://{host}",
        f"http://{host}:8081",
        f"http://{host}:8082",
    )
    # CloudFront's own name and certificate.
    assert out["mediaCdnUrl"] == "https://d111111abcdef8.cloudfront.net"
    media = dev.one(DISTRIBUTION, "gitops-dev-media")
    assert media.inputs["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert not [p for p in dev.of_type(PROVIDER) if p.inputs.get("region") == "us-east-1"]


def test_without_a_domain_the_preview_warns() -> None:
    assert any("dnsZone/dnsDomain are not set" in w for w in dev_settings().warnings)
    assert not any("dnsZone" in w for w in dev_settings(**DOMAIN).warnings)


# --- the media bucket --------------------------------------------------------------------------


def test_media_bucket_is_private_versioned_encrypted_with_lifecycle_and_kept(dev: Recording) -> None:
    media = [r for r in dev.resources if r.type.startswith("aws:s3/") and r.name.startswith("gitops-dev-media")]
    assert media and all(r.retain_on_delete for r in media), [r.name for r in media if not r.retain_on_delete]
    bucket = dev.one("aws:s3/bucket:Bucket", "gitops-dev-media")
    assert bucket.inputs["forceDestroy"] is False
    block = dev.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "gitops-dev-media-public-access")
    assert all(
        block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    versioning = dev.one("aws:s3/bucketVersioning:BucketVersioning", "gitops-dev-media-versioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    enc = dev.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "gitops-dev-media-encryption",
    )
    assert enc.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    (rule,) = dev.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "gitops-dev-media-lifecycle"
    ).inputs["rules"]
    assert rule["transitions"] == [{"days": 30, "storageClass": "STANDARD_IA"}]
    assert rule["expiration"]["days"] == 90
    policy = json.loads(dev.one("aws:s3/bucketPolicy:BucketPolicy", "gitops-dev-media-policy").inputs["policy"])
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    oac_read = sids["CloudFrontReadsThroughOac"]
    assert oac_read["Principal"] == {"Service": "cloudfront.amazonaws.com"} and oac_read["Action"] == "s3:GetObject"
    assert "AWS:SourceArn" in oac_read["Condition"]["StringEquals"]


def test_a_deliberate_setting_lets_destroy_delete_the_media_bucket(run_stack: Any) -> None:
    rec = run_stack({"mediaBucketDeleteOnDestroy": True})
    bucket = rec.one("aws:s3/bucket:Bucket", "gitops-dev-media")
    assert bucket.inputs["forceDestroy"] is True and not bucket.retain_on_delete
    # The backup bucket is not affected.
    assert rec.one("aws:s3/bucket:Bucket", "gitops-dev-backups").retain_on_delete


def test_cors_from_config_and_media_off(run_stack: Any) -> None:
    rec = run_stack({"mediaCorsOrigins": ["https://app.example.com"]})
    (cors,) = rec.one("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration").inputs["corsRules"]
    assert cors["allowedOrigins"] == ["https://app.example.com"]
    assert set(cors["allowedMethods"]) == {"GET", "HEAD", "PUT"}
    off = run_stack({"media": False})
    assert [d.name for d in off.of_type(DISTRIBUTION)] == ["gitops-dev-issuer"]  # the service-account issuer's
    assert not [r for r in off.resources if r.name.startswith("gitops-dev-media")]
    # A null output: `pulumi stack output` leaves it out.
    assert off.stack_outputs.get("mediaBucket") is None and off.stack_outputs.get("mediaCdnUrl") is None


def test_scan_and_chat_pods_get_exactly_get_and_put_on_the_media_objects(dev: Recording) -> None:
    """Through their ServiceAccounts' own roles (IRSA, components/identity.py), never a node's."""
    policies = {
        r.name: json.loads(r.inputs["policy"])
        for r in dev.of_type("aws:iam/rolePolicy:RolePolicy")
        if "media" in r.name
    }
    assert set(policies) == {"gitops-dev-scan-media", "gitops-dev-chat-media"}
    arn = "arn:aws:mock:ap-northeast-2:123456789012:gitops-dev-media"
    for policy in policies.values():
        assert policy == media_reader_policy(arn)
        (statement,) = policy["Statement"]
        assert statement["Action"] == ["s3:GetObject", "s3:PutObject"]
    trust = {r.name: json.loads(r.inputs["assumeRolePolicy"]) for r in dev.of_type("aws:iam/role:Role")}
    for domain in ("scan", "chat"):
        (statement,) = trust[f"gitops-dev-{domain}-media"]["Statement"]
        subjects = [v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":sub")]
        assert subjects == [f"system:serviceaccount:{domain}:{domain}-api"]
    profiles = {r.inputs.get("iamInstanceProfile") for r in dev.of_type("aws:ec2/instance:Instance")} - {None}
    assert profiles == {"gitops-dev-node"}


# --- the names are config ------------------------------------------------------------------------

OWN_NAMES = {"apiHost": "www", "argocdHost": "cd", "grafanaHost": "metrics", "imagesHost": "media"}


def test_the_public_names_are_config_everywhere_they_are_used(run_stack: Any) -> None:
    """Certificate, host rules, alias records, the CDN's alias and certificate, the outputs and
    Argo CD's URL all follow apiHost / argocdHost / grafanaHost / imagesHost."""
    rec: Recording = run_stack({**DOMAIN, **OWN_NAMES})
    fqdn = {k: f"{v}.dev.example.com" for k, v in OWN_NAMES.items()}
    cert = rec.one(CERT, "gitops-dev-web-cert")
    assert {cert.inputs["domainName"], *cert.inputs["subjectAlternativeNames"]} == {
        fqdn["apiHost"],
        fqdn["argocdHost"],
        fqdn["grafanaHost"],
    }
    hosts = {
        v for r in rec.of_type(RULE) for c in r.inputs["conditions"] for v in c.get("hostHeader", {}).get("values", [])
    }
    assert hosts == {fqdn["apiHost"], fqdn["argocdHost"], fqdn["grafanaHost"]}
    aliases = {r.inputs["name"] for r in rec.of_type(RECORD) if r.inputs.get("type") == "A"}
    assert aliases == set(fqdn.values())
    assert rec.one(DISTRIBUTION, "gitops-dev-media").inputs["aliases"] == [fqdn["imagesHost"]]
    out = rec.stack_outputs
    assert (out["apiUrl"], out["argocdUrl"], out["grafanaUrl"], out["mediaCdnUrl"]) == tuple(
        f"https://{fqdn[k]}" for k in ("apiHost", "argocdHost", "grafanaHost", "imagesHost")
    )
    assert dev_settings(**DOMAIN, **OWN_NAMES).argocd_domain == fqdn["argocdHost"]


def test_the_programs_default_names_are_pulumi_yamls() -> None:
    import yaml

    from components.settings.edge import HOST_KEYS
    from components.settings.model import PublicHosts
    from tests.support.paths import ROOT

    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert {key: declared[f"{config_key}"]["default"] for key, config_key in HOST_KEYS.items()} == vars(PublicHosts())
