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
                   (STRUCTURED_KEYS, SECRET_KEYS), versions.yaml, and the unknown-key check (it
                   reads the schema's keys, which a test holds equal to Pulumi.yaml's).
- ``messages.py``  masking (:func:`messages.shown`), Problem, ConfigError, "did you mean".
- ``values.py``    checks of single values that several sections share: the problem Collector
                   (CIDRs, CIDR lists of text), EC2 instance types, https URLs, and the fixes of a
                   value the schema refused as not text, not a list or not a boolean.
- ``schema.py``    the pydantic v2 models of every section: one model per flat section
                   (NetworkKeys, BastionKeys, GitOpsKeys, ArgoCdKeys, EdgeKeys, DataKeys, CiKeys,
                   ApiServerOidcKeys: one field per Pulumi.yaml key, its declared type, no default),
                   the node table's rows and taints, the version overrides (made from versions.yaml's
                   keys). It owns the key names, the types (strict), unknown keys with "did you mean" and collects every
                   refused field at once. Its errors are never shown as they are: the section
                   turns each into a Problem in the project's wording.
- one module per section with its rules (domain rules only: the types are the schema's), in the
                   order problems are listed: ``network.py`` (region, cluster name, VPC, zones,
                   subnets, access CIDRs, pod and service ranges), ``bastion.py`` (bastion type, SSH
                   key pair), ``nodes.py`` (the node table), ``gitops.py``, ``versions.py``,
                   ``argocd.py``, ``edge.py`` (public names, media, API replicas), ``data.py``, ``ci.py``
                   (the GitHub repository CI authenticates to the API server from), ``apiserver_oidc.py``
                   (people's OIDC issuer at the API server and the groups' roles).
- ``cross.py``     rules between two sections (pod range vs node count, private subnets vs the
                   parsed nodes, AMI vs instance types, argocdDomain vs the public names).
- ``parse.py``     :func:`parse.parse_settings`: pure; runs the sections in order, then cross.py,
                   then builds StackSettings.
- ``glue.py``      the only code that reads Pulumi config (:func:`glue.load_settings`).

Adding a key (do these in one commit):

1. Declare it in Pulumi.yaml with type, description and default; never repeat the default in
   Python (:func:`keys.with_defaults` applies it). A key Pulumi.yaml cannot declare (an object,
   an optional secret) goes into STRUCTURED_KEYS or SECRET_KEYS in keys.py, or the unknown-key
   check refuses it.
2. Add it as a field of its section's model in schema.py: the key as the user types it, the Python
   type of its declared type (string: str, integer: int, boolean: bool, array of strings:
   list[str]), no default. tests/unit/test_settings_schema.py fails until the schema and
   Pulumi.yaml agree, and the unknown-key check refuses the key until it is there. A new area: a
   new ``<Area>Keys`` model in SCALAR_SECTIONS (in the order its problems are listed). A field of
   a structured key (a node row's): add it to NodeRow/TaintRow; a version: versions.yaml only.
3. Add its field to StackSettings in model.py, with a default so existing constructions keep
   working. Several keys of one new area: a frozen dataclass for the area in model.py (like
   ArgoCdSso) and one StackSettings field of that type.
4. Check it in its section's module: ``t = schema.section(<Area>Keys, values)``; where
   ``t.ok(key)`` is false the schema refused its type: ``c.add(key, t[key], fix)`` with the fix in
   the project's wording (values.BOOLEAN_FIX, CIDR_FIX, ... or the key's own, as for a bad value);
   else the value has its type and the domain rules judge it, calling ``c.add(key as the user types
   it, value, fix)`` for each bad value and carrying on (every problem at once). A new area gets
   its own module here, named after it (a ``parse_<area>(c, values)``); shared value checks go in
   values.py, rules that read two sections in cross.py.
5. Call it from :func:`parse.parse_settings` and pass the result into StackSettings.
6. Test it in tests/unit/test_config_battery.py (a bad case naming the key; the good default), and
   describe it in README "Configuration".
"""
