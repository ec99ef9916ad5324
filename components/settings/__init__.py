"""Stack settings: the stack's configuration read once, validated whole, frozen.

Components never read Pulumi config. `__main__.py` calls :func:`glue.load_settings` once and hands
the frozen :class:`model.StackSettings` to the components. Validation runs before any resource is
registered (the AWS provider included) and raises one :class:`messages.ConfigError` that lists
every problem: the key as the user types it, the value (masked where secret) and the fix.

Where each piece is (this package imports nothing here, so `import components.settings.model`
pulls in no validation):

- ``model.py``     the types components import: NodeRole, NodeSpec, Taint, GitOpsSource, ArgoCdSso,
                   StackSettings. Plain frozen dataclasses; imports nothing of this package.
- ``keys.py``      the key tables: Pulumi.yaml's declarations (:func:`keys.declared_keys`, the only
                   home of each key's type and default), the keys Pulumi.yaml cannot declare
                   (STRUCTURED_KEYS, SECRET_KEYS), versions.yaml, and the unknown-key check.
- ``messages.py``  masking (:func:`messages.shown`), Problem, ConfigError, "did you mean".
- ``values.py``    checks of single values that several sections share: the problem Collector
                   (CIDRs, CIDR lists), whole numbers, EC2 instance types, https URLs.
- ``schema.py``    the pydantic v2 models of the structured sections (today the node table's rows
                   and taints): fields, strict types, bounds, unknown keys with "did you mean",
                   every refused field at once. Its errors are never shown as they are: the
                   section turns each into a Problem in the project's wording.
- one module per section with its rules, in the order problems are listed:
                   ``network.py`` (region, cluster name, VPC, zones, subnets, access CIDRs, pod and
                   service ranges), ``bastion.py`` (bastion type, SSH key pair), ``nodes.py`` (the
                   node table), ``gitops.py``, ``versions.py``, ``argocd.py``, ``ci.py`` (the GitHub
                   repository CI authenticates to the API server from).
- ``cross.py``     rules between two sections (pod range vs node count, AMI vs instance types,
                   private subnets vs nodes).
- ``parse.py``     :func:`parse.parse_settings`: pure; runs the sections in order, then cross.py,
                   then builds StackSettings.
- ``glue.py``      the only code that reads Pulumi config (:func:`glue.load_settings`).

Adding a key (do these in one commit):

1. Declare it in Pulumi.yaml with type, description and default; never repeat the default in
   Python (:func:`keys.with_defaults` applies it). A key Pulumi.yaml cannot declare (an object,
   an optional secret) goes into STRUCTURED_KEYS or SECRET_KEYS in keys.py, or the unknown-key
   check refuses it.
2. Add its field to StackSettings in model.py, with a default so existing constructions keep
   working. Several keys of one new area: a frozen dataclass for the area in model.py (like
   ArgoCdSso) and one StackSettings field of that type.
3. Check it in its section's module: a ``parse_<area>(c, values)`` that returns the value and,
   for each bad value, calls ``c.add(key as the user types it, value, fix)`` and carries on (every
   problem at once). A new area gets its own module here, named after it; shared value checks
   go in values.py, rules that read two sections in cross.py. A field of a structured key (a
   node row's): add it to its model in schema.py, then word each of its pydantic errors in the
   section.
4. Call it from :func:`parse.parse_settings` and pass the result into StackSettings.
5. Test it in tests/unit/test_config_battery.py (a bad case naming the key; the good default), and
   describe it in README "Configuration".
"""
