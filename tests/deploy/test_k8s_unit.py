"""deploy/k8s: every object ``kubectl apply -k deploy`` would send, validated against the
Kubernetes 1.32 schemas in strict mode (kubernetes-validate: unknown fields and wrong types
are errors), then read for the topology: brokers, Keeper and ClickHouse as their files
name them, every EAMS role, resources, disruption budgets, the secrets and Grafana's files."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_files import DEPLOY, properties, xml

from eams.runtime import ROLES
from eams.settings import Settings

KUBERNETES = "1.32"
Objects = list[dict[str, Any]]


def of_kind(objects: Objects, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def config_map(objects: Objects, prefix: str) -> dict[str, str]:
    """The data of the generated ConfigMap named ``prefix-<hash>``."""
    generated = re.compile(rf"{prefix}-[a-z0-9]{{10}}")
    (found,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and generated.fullmatch(o["metadata"]["name"])
    ]
    data: dict[str, str] = found["data"]
    return data


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def pods(objects: Objects, kind: str, prefix: str) -> list[str]:
    """The DNS names (pod.service) of a StatefulSet family's pods."""
    names = []
    for name, sts in sorted(of_kind(objects, kind).items()):
        if name.startswith(prefix):
            names += [
                f"{name}-{i}.{sts['spec']['serviceName']}" for i in range(sts["spec"]["replicas"])
            ]
    return names


# -- the schemas --------------------------------------------------------------------------


def test_every_object_validates_against_the_kubernetes_schemas(k8s: Objects) -> None:
    assert len(k8s) >= 25
    for obj in k8s:
        # a kind without a schema raises SchemaNotFoundError: it fails here too
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


@pytest.mark.parametrize(
    ("where", "value", "said"),
    [
        (
            ("spec", "template", "spec", "containers", 0, "imagePullPolice"),
            "Always",
            "imagePullPolice",
        ),
        (("spec", "replicas"), "three", "'three' is not of type"),
        (
            ("spec", "template", "spec", "containers", 0, "resources", "limits"),
            ["2"],
            "is not of type",
        ),
    ],
    ids=["unknown field", "wrong type", "wrong shape"],
)
def test_the_schema_check_refuses_what_the_api_server_would(
    k8s: Objects, where: tuple[Any, ...], value: Any, said: str
) -> None:
    broken = copy.deepcopy(of_kind(k8s, "StatefulSet")["kafka"])
    node = broken
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(kubernetes_validate.ValidationError, match=re.escape(said)):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


# -- the topology -------------------------------------------------------------------------


def test_three_brokers_read_the_cluster_file_and_match_the_quorum_voters(k8s: Objects) -> None:
    kafka = of_kind(k8s, "StatefulSet")["kafka"]
    assert kafka["spec"]["replicas"] == 3 and kafka["spec"]["serviceName"] == "kafka"
    assert config_map(k8s, "kafka-config") == {
        "server.properties": (DEPLOY / "kafka" / "cluster.properties").read_text()
    }
    voters = properties(DEPLOY / "kafka" / "cluster.properties")["controller.quorum.voters"]
    assert voters.split(",") == [
        f"{i + 1}@{p}:9093" for i, p in enumerate(pods(k8s, "StatefulSet", "kafka"))
    ]
    (container,) = pod_spec(kafka)["containers"]
    start = container["args"][0]
    assert "KAFKA_NODE_ID=$(( ${HOSTNAME##*-} + 1 ))" in start  # pod kafka-N is node N+1
    assert "CLIENT://${HOSTNAME}.kafka:9092" in start
    assert of_kind(k8s, "Service")["kafka"]["spec"]["clusterIP"] == "None"


def test_keeper_and_clickhouse_pods_are_the_hosts_their_files_name(k8s: Objects) -> None:
    cluster = xml(DEPLOY / "clickhouse" / "config.d" / "cluster.xml")
    keepers = [str(n.findtext("host")) for n in cluster.findall("zookeeper/node")]
    assert keepers == pods(k8s, "StatefulSet", "keeper")
    raft = xml(DEPLOY / "clickhouse" / "keeper" / "keeper.xml")
    assert [
        s.findtext("hostname") for s in raft.findall("keeper_server/raft_configuration/server")
    ] == keepers
    assert (
        "KEEPER_ID=$(( ${HOSTNAME##*-} + 1 ))"
        in pod_spec(of_kind(k8s, "StatefulSet")["keeper"])["containers"][0]["args"][0]
    )

    shards = cluster.findall("remote_servers/eams/shard")
    assert len(shards) == 2
    statefulsets = of_kind(k8s, "StatefulSet")
    for number, shard in enumerate(shards, start=1):
        sts = statefulsets[f"clickhouse-s{number}"]
        hosts = [r.findtext("host") for r in shard.findall("replica")]
        assert hosts == pods(k8s, "StatefulSet", f"clickhouse-s{number}")
        (container,) = pod_spec(sts)["containers"]
        variables = env(container)
        assert variables["CH_SHARD"] == f"{number:02d}"
        assert variables["CH_REPLICA"] == {"fieldRef": {"fieldPath": "metadata.name"}}
        assert variables["CH_HOST"] == "$(CH_REPLICA).clickhouse"
    assert config_map(k8s, "clickhouse-config") == {
        "eams-cluster.xml": (DEPLOY / "clickhouse" / "config.d" / "cluster.xml").read_text(),
        "eams.xml": (DEPLOY / "clickhouse" / "users.d" / "eams.xml").read_text(),
    }
    assert config_map(k8s, "keeper-config") == {
        "keeper_config.xml": (DEPLOY / "clickhouse" / "keeper" / "keeper.xml").read_text()
    }


def test_every_eams_role_runs_and_the_one_that_projects_runs_once(k8s: Objects) -> None:
    deployments = of_kind(k8s, "Deployment")
    roles = {}
    for deployment in deployments.values():
        (container,) = pod_spec(deployment)["containers"]
        command = container.get("command", [])
        if command[:2] == ["eams", "run"]:
            role = command[command.index("--role") + 1] if "--role" in command else "all"
            roles[role] = deployment
    assert set(roles) == set(ROLES)
    everything = roles["all"]
    assert everything["spec"]["replicas"] == 1
    assert everything["spec"]["strategy"] == {"type": "Recreate"}
    render, apply = pod_spec(everything)["initContainers"]
    assert render["command"][:3] == ["eams", "schema", "render"]
    assert render["command"][render["command"].index("--cluster") + 1] == "eams"
    assert apply["command"] == ["/bin/sh", "/scripts/apply-schema.sh", "/schema"]
    servers = pods(k8s, "StatefulSet", "clickhouse-s1") + pods(k8s, "StatefulSet", "clickhouse-s2")
    assert env(apply)["CLICKHOUSE_HOST"] in servers  # one server for the whole run
    assert config_map(k8s, "clickhouse-schema") == {
        "apply-schema.sh": (DEPLOY / "clickhouse" / "apply-schema.sh").read_text()
    }
    shared = of_kind(k8s, "ConfigMap")["eams-env"]["data"]
    settings = Settings(**{k.removeprefix("EAMS_").lower(): v for k, v in shared.items()})
    assert (settings.topic_replication, settings.topic_min_insync) == (3, 2)
    brokers = {p.split(".")[0] for p in pods(k8s, "StatefulSet", "kafka")}
    assert {h.split(".")[0] for h in settings.bootstrap.split(",")} == brokers


def test_every_container_asks_for_and_is_limited_in_cpu_and_memory(k8s: Objects) -> None:
    for kind in ("Deployment", "StatefulSet"):
        for name, workload in of_kind(k8s, kind).items():
            spec = pod_spec(workload)
            for container in spec["containers"] + spec.get("initContainers", []):
                for bound in ("requests", "limits"):
                    assert set(container["resources"][bound]) == {"cpu", "memory"}, (name, bound)


def test_what_runs_more_than_once_has_a_disruption_budget(k8s: Objects) -> None:
    budgets = [
        b["spec"]["selector"]["matchLabels"] for b in of_kind(k8s, "PodDisruptionBudget").values()
    ]
    for kind in ("Deployment", "StatefulSet"):
        for name, workload in of_kind(k8s, kind).items():
            labels = workload["spec"]["template"]["metadata"]["labels"]
            covered = [b for b in budgets if b.items() <= labels.items()]
            if workload["spec"]["replicas"] > 1:
                assert len(covered) == 1, name
            else:  # a budget over one pod would only block draining its node
                assert not covered, name


def test_services_select_pods_that_exist(k8s: Objects) -> None:
    templates = [
        w["spec"]["template"]["metadata"]["labels"]
        for kind in ("Deployment", "StatefulSet")
        for w in of_kind(k8s, kind).values()
    ]
    for name, service in of_kind(k8s, "Service").items():
        selector = service["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in templates), name


def test_the_secrets_referenced_are_the_ones_the_kustomization_says_to_create(k8s: Objects) -> None:
    referenced = set(
        re.findall(
            r"'key': '([a-z-]+)', 'name': 'eams-secrets'|"
            r"'name': 'eams-secrets', 'key': '([a-z-]+)'",
            str(k8s),
        )
    )
    keys = {a or b for a, b in referenced}
    documented = set(
        re.findall(r"--from-literal=([a-z-]+)=", (DEPLOY / "kustomization.yaml").read_text())
    )
    assert keys == documented
    assert "Secret" not in {o["kind"] for o in k8s}  # no secret is kept in the repository


def test_grafana_reads_the_exported_dashboards_and_its_provisioning(k8s: Objects) -> None:
    exported = {p.name: p.read_text() for p in sorted((DEPLOY / "grafana").glob("*.json"))}
    assert config_map(k8s, "grafana-dashboards") == exported
    provisioning = DEPLOY / "grafana" / "provisioning"
    providers = config_map(k8s, "grafana-dashboard-providers")
    assert providers == {"eams.yaml": (provisioning / "dashboards" / "eams.yaml").read_text()}
    sources = config_map(k8s, "grafana-datasources")
    assert sources == {
        p.name: p.read_text() for p in sorted((provisioning / "datasources").glob("*.yaml"))
    }
    (container,) = pod_spec(of_kind(k8s, "Deployment")["grafana"])["containers"]
    mounted = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    (provider,) = yaml.safe_load(providers["eams.yaml"])["providers"]
    assert mounted[provider["options"]["path"]] == "dashboards"
    provisioned = {
        d["uid"]: d for text in sources.values() for d in yaml.safe_load(text)["datasources"]
    }
    for text in exported.values():  # every data source a panel reads is provisioned
        board = json.loads(text)
        used = {t["datasource"]["uid"] for p in board["panels"] for t in p["targets"]}
        assert board["uid"] and used and used <= set(provisioned), used
    assert env(container)["CLICKHOUSE_HOST"] in of_kind(k8s, "Service")
    prometheus = provisioned["eams-prometheus"]["url"]
    assert prometheus == "http://prometheus:9090" and "prometheus" in of_kind(k8s, "Service")


def test_prometheus_scrapes_every_eams_pod(k8s: Objects) -> None:
    """The DNS name it scrapes is a headless Service over every EAMS pod, at the port each
    EAMS container names ``metrics`` and its /metrics listens on."""
    config = yaml.safe_load(config_map(k8s, "prometheus-config")["prometheus.yml"])
    assert config == yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "eams"]
    ((sd,),) = [job["dns_sd_configs"]]
    (name,) = sd["names"]
    service = of_kind(k8s, "Service")[name]
    assert service["spec"]["clusterIP"] == "None"  # headless: one address per pod
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "eams"}
    settings = of_kind(k8s, "ConfigMap")["eams-env"]["data"]
    assert (settings["EAMS_METRICS_PORT"], settings["EAMS_METRICS_HOST"]) == (
        str(sd["port"]), "0.0.0.0")  # fmt: skip
    eams = {n: d for n, d in of_kind(k8s, "Deployment").items() if n.startswith("eams-")}
    assert set(eams) == {"eams-all", "eams-ingest", "eams-commands"}
    for deployment_name, deployment in eams.items():
        (container,) = pod_spec(deployment)["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == sd["port"], deployment_name


def test_images_are_set_in_one_place(k8s: Objects) -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    names = {i["name"] for i in kustomization["images"]}
    for kind in ("Deployment", "StatefulSet"):
        for workload in of_kind(k8s, kind).values():
            spec = pod_spec(workload)
            for container in spec["containers"] + spec.get("initContainers", []):
                name, _, tag = container["image"].rpartition(":")
                assert name in names and tag, container["image"]
    assert not list(Path(DEPLOY / "k8s").glob("*secret*"))
