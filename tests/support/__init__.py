"""Code the tests share, and nothing else: no test module imports another.

- paths.py        the repository root (defined once) and the test data folders
- fakes.py        the fake secrets tests plant (none may appear in plain text)
- prereqs.py      required tools: a skip with the fix, a failure under CI=true
- dev_stack.py    the dev stack's node table (Pulumi.dev.yaml)
- settings.py     validated settings, hosts and jump host of the dev layout, fixed for golden files
- plain_text.py   "a secret is nowhere in plain text" over a mock-runtime recording
- manifests.py    kubectl kustomize renders of manifests/, their fixtures and strict schemas
- netpol.py       the NetworkPolicy evaluator (its own tests: tests/support/test_netpol.py)
- platform_pods.py  the platform's pods as the evaluator sees them
- charts.py       charts of /work/shared/charts rendered offline (tools/charts.py)
- children.py, psa.py  the root's child Applications rendered; Pod Security levels
- playbook.py, sshd.py, local_play.py  running Ansible roles here (sshd on loopback)
- eic.py          EC2 Instance Connect on loopback: the SendSSHPublicKey endpoint, the sshd key lookup
- node_simulator.py, standins_scenario.py, simulator/  the node simulator and its scenarios
- jwt_authenticator.py  the API server's `jwt` authenticator: CEL claim mappings and rules, run by cel-cpp
- policy.py, workflows.py, stub_pulumi.py  the policy pack, GitHub workflows and a stub CLI
"""
