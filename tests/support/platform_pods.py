"""The platform's pods as the NetworkPolicy evaluator sees them (namespace, labels, ports)."""

from __future__ import annotations

from tests.support.netpol import Endpoint

# The pods of the argo-cd release, kube-prometheus-stack, cert-manager, cloudnative-pg and
# plugin-barman-cloud, with the labels and ports the pinned charts render
# (tests/manifests/test_pod_security.py checks these against the render).
ARGOCD_PODS = [
    Endpoint("argocd/server", "argocd", {"app.kubernetes.io/name": "argocd-server"}, ports={"metrics": 8083}),
    Endpoint("argocd/repo-server", "argocd", {"app.kubernetes.io/name": "argocd-repo-server"}, ports={"metrics": 8084}),
    Endpoint(
        "argocd/application-controller",
        "argocd",
        {"app.kubernetes.io/name": "argocd-application-controller"},
        ports={"metrics": 8082},
    ),
    Endpoint(
        "argocd/applicationset-controller",
        "argocd",
        {"app.kubernetes.io/name": "argocd-applicationset-controller"},
        ports={"metrics": 8080},
    ),
    Endpoint("argocd/redis", "argocd", {"app.kubernetes.io/name": "argocd-redis"}),
    # With GitHub SSO (components/argocd.py): Dex's http, grpc and metrics ports (chart 10.1.1 values).
    Endpoint(
        "argocd/dex-server",
        "argocd",
        {"app.kubernetes.io/name": "argocd-dex-server"},
        ports={"http": 5556, "grpc": 5557, "metrics": 5558},
    ),
]


MONITORING_PODS = [
    Endpoint("alertmanager", "monitoring", {"app.kubernetes.io/name": "alertmanager"}),
    Endpoint("kube-state-metrics", "monitoring", {"app.kubernetes.io/name": "kube-state-metrics"}),
    Endpoint(
        "prometheus-operator",
        "monitoring",
        {
            "app": "kube-prometheus-stack-operator",
            "app.kubernetes.io/name": "kube-prometheus-stack-prometheus-operator",
        },
    ),
]


def _cert_manager(component: str, name: str | None = None, **ports: int) -> Endpoint:
    labels = {
        "app.kubernetes.io/name": name or component,
        "app.kubernetes.io/instance": "cert-manager",
        "app.kubernetes.io/component": component,
    }
    return Endpoint(f"cert-manager/{component}", "cert-manager", labels, ports=ports)


CERT_MANAGER_PODS = [
    _cert_manager("controller", "cert-manager", **{"http-metrics": 9402, "http-healthz": 9403}),
    _cert_manager("cainjector", **{"http-metrics": 9402}),
    _cert_manager("webhook", **{"https": 10250, "healthcheck": 6080, "http-metrics": 9402}),
    _cert_manager("startupapicheck"),
]


CNPG_PODS = [
    Endpoint(
        "cnpg-system/operator",
        "cnpg-system",
        {"app.kubernetes.io/name": "cloudnative-pg", "app.kubernetes.io/instance": "cloudnative-pg"},
        ports={"metrics": 8080, "webhook-server": 9443},
    ),
    Endpoint(
        "cnpg-system/plugin-barman-cloud",
        "cnpg-system",
        {"app.kubernetes.io/name": "plugin-barman-cloud", "app.kubernetes.io/instance": "plugin-barman-cloud"},
        ports={"9090": 9090},  # the chart names no port
    ),
]


# The EBS CSI driver's controller (app:aws-ebs-csi-driver; its node plugin is on the host network).
EBS_CSI_PODS = [
    Endpoint(
        "ebs-csi/controller",
        "ebs-csi",
        {"app": "ebs-csi-controller", "app.kubernetes.io/name": "aws-ebs-csi-driver"},
        ports={"healthz": 9808},
    ),
]


# The snapshot controller (app:snapshot-controller), from kubernetes-csi/external-snapshotter's
# deploy/kubernetes/snapshot-controller/setup-snapshot-controller.yaml: its pod template's label
# `app: snapshot-controller` (read through the search tool at commit 82edc16a; the file is not here
# to render, so tests/manifests/test_pod_security.py cannot hold this to a rendered pod). No ports.
SNAPSHOT_CONTROLLER_PODS = [
    Endpoint("snapshot-controller/snapshot-controller", "snapshot-controller", {"app": "snapshot-controller"}),
]


# Envoy Gateway (chart gateway-helm v1.9.0, release envoy-gateway): its controller, as the chart
# renders it (tests/manifests/test_pod_security.py checks this against the render), and the Envoy
# pods the controller creates for the Gateway `public` (not rendered: made at run time). Their
# labels are the ones envoyproxy/gateway sets on every proxy workload and pod template:
# - internal/infrastructure/kubernetes/proxy/resource.go `EnvoyAppLabel()`: app.kubernetes.io/name=envoy,
#   app.kubernetes.io/component=proxy, app.kubernetes.io/managed-by=envoy-gateway;
# - internal/gatewayapi/helpers.go `GatewayOwnerLabels()` (constants in translator.go), without
#   mergeGateways: gateway.envoyproxy.io/owning-gateway-name=<Gateway>,
#   gateway.envoyproxy.io/owning-gateway-namespace=<its namespace>;
# - the testdata renders internal/infrastructure/kubernetes/proxy/testdata/{deployments,daemonsets}/default.yaml
#   carry exactly these five on spec.template.metadata.labels.
# Read 2026-12-07 through the search tool (envoyproxy/gateway, the stored versions of those files;
# release-notes/v1.9.0.yaml lists no change to them; the label-hashing change for Gateway names over
# 63 characters, release-notes/current/bug_fixes/10048, is after v1.9.0 and leaves `public` as it is).
# The NetworkPolicies select only name + component, so an extra label a later version adds does not
# change what they admit.
ENVOY_GATEWAY_PODS = [
    Endpoint(
        "envoy-gateway-system/controller",
        "envoy-gateway-system",
        {
            "control-plane": "envoy-gateway",
            "app.kubernetes.io/name": "gateway-helm",
            "app.kubernetes.io/instance": "envoy-gateway",
        },
        ports={"grpc": 18000, "metrics": 19001},
    ),
    Endpoint(
        "envoy-gateway-system/envoy",
        "envoy-gateway-system",
        {
            "app.kubernetes.io/name": "envoy",
            "app.kubernetes.io/component": "proxy",
            "app.kubernetes.io/managed-by": "envoy-gateway",
            "gateway.envoyproxy.io/owning-gateway-name": "public",
            "gateway.envoyproxy.io/owning-gateway-namespace": "envoy-gateway-system",
        },
        ports={"http-8080": 8080, "http-8081": 8081, "http-8082": 8082},
    ),
]

PROBE_PORTS = [
    (53, "UDP"),
    (53, "TCP"),
    (5432, "TCP"),
    (6379, "TCP"),
    (5672, "TCP"),
    (8000, "TCP"),
    (443, "TCP"),
    (80, "TCP"),
    # Datastore metrics (issue 11): PostgreSQL, the Redis exporter, RabbitMQ's prometheus plugin.
    (9187, "TCP"),
    (9121, "TCP"),
    (15692, "TCP"),
    (15672, "TCP"),
    # ArgoCD (repo-server, redis, metrics), monitoring (Prometheus, Alertmanager, Grafana,
    # kube-state-metrics, the operator's webhook), the API server and node targets.
    (8081, "TCP"),
    (6379, "TCP"),
    (8080, "TCP"),
    (8082, "TCP"),
    (8083, "TCP"),
    (8084, "TCP"),
    (9090, "TCP"),
    (9093, "TCP"),
    (9094, "TCP"),
    (3000, "TCP"),
    (6443, "TCP"),
    (10250, "TCP"),
    (9100, "TCP"),
    # The data stack's pods: the CloudNativePG webhook, cert-manager's metrics, the controller's
    # and the webhook's health ports (9090 above is the plugin's gRPC, 8080 the operator's metrics).
    (9443, "TCP"),
    (9402, "TCP"),
    (9403, "TCP"),
    (6080, "TCP"),
    # Envoy Gateway's xDS.
    (18000, "TCP"),
    # Dex (SSO): HTTP, gRPC, metrics.
    (5556, "TCP"),
    (5557, "TCP"),
    (5558, "TCP"),
]
