"""The media bucket and its CDN: image uploads from the front end, served by CloudFront as `images.<domain>`.

As the system this replaces had it (DESIGN.md): a private, versioned, encrypted bucket with a
lifecycle (infrequent access after 30 days, expiry after 90) and CORS for the front-end origins;
the front end uploads with pre-signed URLs that the `scan` and `chat` services sign and read.
CloudFront reads the bucket through Origin Access Control (SigV4, not the legacy origin access
identity); the bucket policy admits exactly this distribution and refuses anything not over TLS.

CloudFront's certificate must be in us-east-1, so with a domain this component creates a second,
explicit AWS provider for that region (the stack's default tags) and the certificate through it;
its validation records go into the stack's zone through the stack's provider.

Destroy (docs/deployment.md, "Destroy"): the bucket and its settings are kept, like the backup
bucket, unless `mediaBucketDeleteOnDestroy` is set (then destroy empties and deletes it). The
distribution is removed; CloudFront first disables it and waits until every edge location has
the change, which takes several minutes (commonly 5-15) before the delete itself.

Who may use it: the `scan` and `chat` API pods, each through its ServiceAccount's own IAM role
(IRSA, components/identity.py), which may only Get and Put objects in this bucket
(`media_reader_policy`). No node role can touch it, and every node keeps IMDS hop limit 1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.backup import abort_uploads, private_bucket_basics, s3_origin_access_control
from components.bucket_policies import cloudfront_read_policy
from components.public_entry import alias_record, dns_validated_certificate
from components.settings.model import PublicDns

TYPE_TOKEN = "gitops-cluster:media:MediaCdn"  # noqa: S105 (a Pulumi type token)

# The key of its public name in PublicHosts (config `imagesHost`, default images.<domain>).
MEDIA_HOST_KEY = "images"
INFREQUENT_ACCESS_DAYS = 30
EXPIRE_DAYS = 90
NONCURRENT_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = 2
# The domains whose API pods read and upload media (DESIGN.md: scan and chat read).
MEDIA_DOMAINS = ("scan", "chat")
# AWS-managed CloudFront cache policy "Managed-CachingOptimized" (a fixed, documented id).
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
# CloudFront's alias target zone (the same for every distribution).
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"


@dataclass(frozen=True)
class MediaCdnArgs:
    cluster_name: str
    cors_origins: Sequence[str]
    default_tags: Mapping[str, str]
    dns: PublicDns | None = None
    zone_id: str | None = None
    delete_on_destroy: bool = False


class MediaCdn(pulumi.ComponentResource):
    """The media bucket, its settings and the CloudFront distribution with OAC.

    Creates: an S3 bucket (`<cluster>-media-` prefix; kept on destroy unless `delete_on_destroy`),
    bucket-owner-enforced ownership, all four public-access blocks, versioning, SSE-S3 with a bucket
    key, CORS (GET/HEAD/PUT from `cors_origins`), a lifecycle (STANDARD_IA after 30 days, expiry
    after 90, noncurrent versions after 30, aborted uploads after 2), a policy that denies non-TLS
    requests and lets only this distribution read; an Origin Access Control and the distribution
    (HTTPS only, TLS 1.2+ with a certificate). With a domain also: a us-east-1 provider, the
    certificate for `images.<domain>` with its validation record, and the alias record. The
    readers' roles are in components/identity.py.
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    cdn_url: pulumi.Output[str]

    def __init__(self, name: str, args: MediaCdnArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=not args.delete_on_destroy)
        bucket = aws.s3.Bucket(
            f"{name}-media",
            bucket_prefix=f"{args.cluster_name}-media-",
            force_destroy=args.delete_on_destroy,
            opts=kept,
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        block = self._create_bucket_settings(name, bucket, args, kept)
        distribution = self._create_distribution(name, bucket, args)
        aws.s3.BucketPolicy(
            f"{name}-media-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, distribution.arn).apply(
                lambda a: json.dumps(media_bucket_policy(a[0], a[1]))
            ),
            opts=pulumi.ResourceOptions.merge(kept, pulumi.ResourceOptions(depends_on=[block])),
        )
        host = args.dns.fqdn(MEDIA_HOST_KEY) if args.dns is not None else None
        self.cdn_url = (
            pulumi.Output.from_input(f"https://{host}")
            if host is not None
            else distribution.domain_name.apply(lambda d: f"https://{d}")
        )
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "cdn_url": self.cdn_url,
            }
        )

    def _create_bucket_settings(
        self, name: str, bucket: aws.s3.Bucket, args: MediaCdnArgs, kept: pulumi.ResourceOptions
    ) -> aws.s3.BucketPublicAccessBlock:
        block, _ = private_bucket_basics(f"{name}-media", bucket, kept, versioned=True)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-media-lifecycle",
            bucket=bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(**rule) for rule in media_lifecycle_rules()],
            opts=kept,
        )
        if args.cors_origins:
            aws.s3.BucketCorsConfiguration(
                f"{name}-media-cors",
                bucket=bucket.id,
                cors_rules=[aws.s3.BucketCorsConfigurationCorsRuleArgs(**cors_rule(args.cors_origins))],
                opts=kept,
            )
        return block

    def _create_distribution(self, name: str, bucket: aws.s3.Bucket, args: MediaCdnArgs) -> aws.cloudfront.Distribution:
        child = pulumi.ResourceOptions(parent=self)
        oac = s3_origin_access_control(f"{name}-media", f"{args.cluster_name} media bucket", child)
        aliases: list[str] = []
        viewer_certificate = aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True)
        if args.dns is not None:
            assert args.zone_id is not None, "a domain comes with its zone's id"
            us_east_1 = aws.Provider(
                f"{name}-us-east-1",
                region="us-east-1",
                default_tags=aws.ProviderDefaultTagsArgs(tags=dict(args.default_tags)),
                opts=child,
            )
            host = args.dns.fqdn(MEDIA_HOST_KEY)
            aliases = [host]
            certificate_arn = dns_validated_certificate(f"{name}-media-cert", [host], args.zone_id, self, us_east_1)
            viewer_certificate = aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version="TLSv1.2_2021",
            )
        origin_id = "media-bucket"
        distribution = aws.cloudfront.Distribution(
            f"{name}-media",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class="PriceClass_200",
            comment=f"{args.cluster_name} media",
            aliases=aliases,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=origin_id,
                    domain_name=bucket.bucket_regional_domain_name,
                    origin_access_control_id=oac.id,
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=origin_id,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=["GET", "HEAD", "OPTIONS"],
                cached_methods=["GET", "HEAD"],
                cache_policy_id=CACHING_OPTIMIZED_POLICY_ID,
                compress=True,
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            viewer_certificate=viewer_certificate,
            # Destroy disables the distribution and waits for it to be deployed before deleting it.
            wait_for_deployment=True,
            opts=child,
        )
        if args.dns is not None:
            assert args.zone_id is not None
            alias_record(
                f"{name}-media",
                args.zone_id,
                args.dns.fqdn(MEDIA_HOST_KEY),
                distribution.domain_name,
                distribution.hosted_zone_id,
                child,
            )
        return distribution


# --- pure functions (tested without the runtime) -------------------------------------------------


def media_lifecycle_rules() -> list[dict[str, Any]]:
    return [
        {
            "id": "media-age",
            "status": "Enabled",
            "filter": aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            "transitions": [
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=INFREQUENT_ACCESS_DAYS, storage_class="STANDARD_IA"
                )
            ],
            "expiration": aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=EXPIRE_DAYS),
            "noncurrent_version_expiration": aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=NONCURRENT_DAYS
            ),
            "abort_incomplete_multipart_upload": abort_uploads(INCOMPLETE_UPLOAD_DAYS),
        }
    ]


def cors_rule(origins: Sequence[str]) -> dict[str, Any]:
    """Browsers upload with pre-signed PUTs and read with GETs from the front-end origins only."""
    return {
        "allowed_methods": ["GET", "HEAD", "PUT"],
        "allowed_origins": list(origins),
        "allowed_headers": ["Content-Type", "Content-MD5", "x-amz-*"],
        "expose_headers": ["ETag"],
        "max_age_seconds": 3000,
    }


def media_bucket_policy(bucket_arn: str, distribution_arn: str) -> dict[str, Any]:
    """TLS only (as the backup bucket), and reads by this CloudFront distribution through OAC."""
    return cloudfront_read_policy(bucket_arn, distribution_arn, "CloudFrontReadsThroughOac", f"{bucket_arn}/*")


def media_reader_policy(bucket_arn: str) -> dict[str, Any]:
    """Exactly Get and Put on the bucket's objects: what signing a download or an upload needs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "MediaObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"{bucket_arn}/*",
            }
        ],
    }
