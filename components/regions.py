"""AWS regions and how many availability zones an account can see in each: a static table.

Config validation checks `aws:region` and `azCount` against it *before* the AWS provider is
registered, so a typo'd region or too many AZs stop `pulumi preview` with a message instead of a
provider error half-way. The live lookup in components/stack.py stays as the second line: some
accounts see fewer zones than the region has (AWS keeps older zones from new accounts in
us-west-1, ap-northeast-1 and ca-central-1), so the numbers here are the most zones *any* account
sees, an upper bound that never refuses a stack the live lookup would accept.

Checked against AWS's "Regions and Availability Zones" pages and the AZ lists EC2
DescribeAvailabilityZones reports (as known in late 2025; no region opened since is in the table).
A region AWS opens later is refused with a message naming this file: add it here.
"""

from __future__ import annotations

from types import MappingProxyType

AZ_COUNT_BY_REGION = MappingProxyType(
    {
        "af-south-1": 3,
        "ap-east-1": 3,
        "ap-east-2": 3,
        "ap-northeast-1": 4,
        "ap-northeast-2": 4,
        "ap-northeast-3": 3,
        "ap-south-1": 3,
        "ap-south-2": 3,
        "ap-southeast-1": 3,
        "ap-southeast-2": 3,
        "ap-southeast-3": 3,
        "ap-southeast-4": 3,
        "ap-southeast-5": 3,
        "ap-southeast-6": 3,
        "ap-southeast-7": 3,
        "ca-central-1": 4,
        "ca-west-1": 3,
        "cn-north-1": 3,
        "cn-northwest-1": 3,
        "eu-central-1": 3,
        "eu-central-2": 3,
        "eu-north-1": 3,
        "eu-south-1": 3,
        "eu-south-2": 3,
        "eu-west-1": 3,
        "eu-west-2": 3,
        "eu-west-3": 3,
        "il-central-1": 3,
        "me-central-1": 3,
        "me-south-1": 3,
        "mx-central-1": 3,
        "sa-east-1": 3,
        "us-east-1": 6,
        "us-east-2": 3,
        "us-gov-east-1": 3,
        "us-gov-west-1": 3,
        "us-west-1": 3,
        "us-west-2": 4,
    }
)
