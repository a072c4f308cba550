"""deploy/compose: the file as Docker Compose loads it (deploy/compose/check: compose-go,
the loader of ``docker compose config``: interpolation, the Compose Specification's schema,
consistency), what it refuses, and the topology read off the loaded project against the
Kafka and ClickHouse files it mounts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy_files import (
    COMPOSE_FILE,
    DEPLOY,
    SECRETS,
    compose_config,
    properties,
    xml,
)

from eams.runtime import ROLES
from eams.settings import Settings

KAFKA = DEPLOY / "kafka" / "cluster.properties"
CLUSTER_XML = DEPLOY / "clickhouse" / "config.d" / "cluster.xml"
KEEPER_XML = DEPLOY / "clickhouse" / "keeper" / "keeper.xml"


def services(project: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in project["services"].items() if n.startswith(prefix)}


def aliases(service: dict[str, Any]) -> list[str]:
    return list(service["networks"]["default"]["aliases"])


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Target in the container -> source on the host, of the service's bind mounts."""
    return {v["target"]: v["source"] for v in service.get("volumes", []) if v["type"] == "bind"}


def eams_services(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in project["services"].items() if (s.get("command") or [""])[0:2] ==
            ["eams", "run"]}  # fmt: skip


# -- the loader: what it takes and what it refuses ----------------------------------------


def test_the_file_loads_as_docker_compose_loads_it(compose: dict[str, Any]) -> None:
    assert compose["name"] == "eams"
    assert set(compose["services"]) == {
        "kafka-0", "kafka-1", "kafka-2", "keeper-0", "keeper-1", "keeper-2",
        "clickhouse-s1-0", "clickhouse-s1-1", "clickhouse-s2-0", "clickhouse-s2-1",
        "schema-render", "schema-apply", "eams-all", "eams-ingest", "eams-commands", "grafana",
        "prometheus",
    }  # fmt: skip
    for name, service in compose["services"].items():
        for target, source in mounts(service).items():
            assert Path(source).exists(), f"{name}: {source} (for {target}) is not in the repo"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_a_secret_left_unset_stops_it_and_is_named(missing: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != missing}
    done = compose_config(COMPOSE_FILE, env)
    assert done.returncode == 1
    assert f"required variable {missing} is missing a value: set {missing}" in done.stderr


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            ('    command: ["eams", "run"]\n', '    command: ["eams", "run"]\n    comand: x\n'),
            "services.eams-all.comand",
        ),
        (("      replicas: 2\n", "      replicas: two\n"), "replicas"),
        (
            (
                "      schema-apply: { condition: service_completed_successfully }\n    deploy:",
                "      schema-applied: { condition: service_completed_successfully }\n    deploy:",
            ),
            "schema-applied",
        ),
        (
            ("    volumes: [eams-state:/var/lib/eams]", "    volumes: [eams-stat:/var/lib/eams]"),
            "eams-stat",
        ),
    ],
    ids=["unknown key", "wrong type", "undeclared dependency", "undeclared volume"],
)
def test_what_docker_compose_refuses_is_refused(
    tmp_path: Path, change: tuple[str, str], said: str
) -> None:
    text = COMPOSE_FILE.read_text()
    assert change[0] in text
    (tmp_path / "compose").mkdir()
    broken = tmp_path / "compose" / "compose.yaml"
    broken.write_text(text.replace(change[0], change[1], 1))
    done = compose_config(broken, SECRETS)
    assert done.returncode == 1
    assert said in done.stderr, done.stderr


def test_images_are_variables_with_defaults() -> None:
    images = re.findall(r"^\s*image: (.+)$", COMPOSE_FILE.read_text(), flags=re.M)
    assert images
    for image in images:
        assert re.fullmatch(r"\$\{[A-Z_]+_IMAGE:-[\w./-]+:[\w.-]+\}", image), image


# -- the topology -------------------------------------------------------------------------


def test_three_brokers_match_the_quorum_voters(compose: dict[str, Any]) -> None:
    config = properties(KAFKA)
    assert config["process.roles"] == "broker,controller"
    voters = dict(v.split("@") for v in config["controller.quorum.voters"].split(","))
    brokers = services(compose, "kafka-")
    assert len(brokers) == len(voters) == 3
    ids = set()
    for name, broker in brokers.items():
        env = broker["environment"]
        (host,) = aliases(broker)
        assert voters[env["KAFKA_NODE_ID"]] == f"{host}:9093", name
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"CLIENT://{host}:9092", name
        assert env["CLUSTER_ID"] == SECRETS["KAFKA_CLUSTER_ID"]
        assert mounts(broker)["/mnt/shared/config/server.properties"] == str(KAFKA)
        for user in ("admin", "eams-raw", "eams-stream"):
            assert f'user_{user}="' in env["KAFKA_LISTENER_NAME_CLIENT_PLAIN_SASL_JAAS_CONFIG"]
        ids.add(env["KAFKA_NODE_ID"])
    assert ids == {"1", "2", "3"}


def settings_of(environment: dict[str, str]) -> Settings:
    """The settings a process with this environment reads (EAMS_X -> field x)."""
    fields = {k.removeprefix("EAMS_").lower(): v for k, v in environment.items()}
    return Settings(**{k: v for k, v in fields.items() if k in Settings.model_fields})


def test_replication_three_and_two_in_sync_for_eams_and_the_brokers(
    compose: dict[str, Any],
) -> None:
    config = properties(KAFKA)
    for key, want in {
        "default.replication.factor": "3", "min.insync.replicas": "2",
        "offsets.topic.replication.factor": "3", "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2", "unclean.leader.election.enable": "false",
        "auto.create.topics.enable": "false",
    }.items():  # fmt: skip
        assert config[key] == want, key
    hosts = {a for b in services(compose, "kafka-").values() for a in aliases(b)}
    workers = eams_services(compose)
    assert workers
    for name, worker in workers.items():
        settings = settings_of(worker["environment"])  # valid, and a cluster
        assert settings.topic_replication == 3 and settings.topic_min_insync == 2, name
        assert {h.split(":")[0] for h in settings.bootstrap.split(",")} == hosts, name
        assert settings.kafka_sasl_mechanism == "PLAIN"
        assert settings.kafka("stream").principal == "User:eams-stream"
        assert settings.manages_acls, name  # EAMS grants the raw and stream ACLs itself


def test_clickhouse_is_two_shards_of_two_replicas_matching_the_services(
    compose: dict[str, Any],
) -> None:
    cluster = xml(CLUSTER_XML).find("remote_servers/eams")
    assert cluster is not None
    shards = cluster.findall("shard")
    assert len(shards) == 2
    servers = services(compose, "clickhouse-")
    by_host = {aliases(s)[0]: (n, s) for n, s in servers.items()}
    replica_names = []
    for number, shard in enumerate(shards, start=1):
        assert shard.findtext("internal_replication") == "true"
        hosts = [r.findtext("host") for r in shard.findall("replica")]
        assert len(hosts) == 2
        for host in hosts:
            name, server = by_host.pop(str(host))
            env = server["environment"]
            assert env["CH_SHARD"] == f"{number:02d}", name
            assert env["CH_HOST"] == host, name
            replica_names.append(env["CH_REPLICA"])
            assert mounts(server)["/etc/clickhouse-server/config.d/eams-cluster.xml"] == str(
                CLUSTER_XML
            )
    assert not by_host, f"servers outside remote_servers: {sorted(by_host)}"
    # tables replicated on every node share one Keeper path: names unique across the cluster
    assert len(set(replica_names)) == len(replica_names) == 4


def test_three_keepers_match_the_raft_configuration_and_the_servers(
    compose: dict[str, Any],
) -> None:
    raft = {
        s.findtext("id"): f"{s.findtext('hostname')}"
        for s in xml(KEEPER_XML).findall("keeper_server/raft_configuration/server")
    }
    keepers = services(compose, "keeper-")
    assert len(keepers) == len(raft) == 3
    for name, keeper in keepers.items():
        assert raft[keeper["environment"]["KEEPER_ID"]] == aliases(keeper)[0], name
    nodes = [n.findtext("host") for n in xml(CLUSTER_XML).findall("zookeeper/node")]
    assert sorted(nodes) == sorted(raft.values())


def test_every_eams_role_runs_and_the_one_that_projects_runs_once(
    compose: dict[str, Any],
) -> None:
    workers = eams_services(compose)
    roles = {}
    for name, worker in workers.items():
        command = worker["command"]
        role = command[command.index("--role") + 1] if "--role" in command else "all"
        roles[role] = (name, worker)
    assert set(roles) == set(ROLES)
    _, everything = roles["all"]
    assert everything["deploy"]["replicas"] == 1
    assert everything["environment"]["EAMS_HTTP_HOST"] == "0.0.0.0"
    for name, worker in workers.items():
        limits = worker["deploy"]["resources"]["limits"]
        assert limits["cpus"] and limits["memory"], name
    shared = {k: v for k, v in everything["environment"].items() if not k.startswith("EAMS_HTTP")}
    for name, worker in workers.items():  # the keys of personal data are the same everywhere
        assert {k: worker["environment"].get(k) for k in shared} == shared, name


def test_the_schema_is_rendered_and_applied_before_the_worker_starts(
    compose: dict[str, Any],
) -> None:
    render = compose["services"]["schema-render"]["command"]
    assert render[:3] == ["eams", "schema", "render"]
    assert render[render.index("--cluster") + 1] == "eams"
    assert xml(CLUSTER_XML).find("remote_servers/eams") is not None
    assert int(render[render.index("--shards") + 1]) == len(
        xml(CLUSTER_XML).findall("remote_servers/eams/shard")
    )
    apply = compose["services"]["schema-apply"]
    assert apply["depends_on"]["schema-render"]["condition"] == "service_completed_successfully"
    for server in services(compose, "clickhouse-"):
        assert apply["depends_on"][server]["condition"] == "service_healthy"
    assert mounts(apply)["/apply-schema.sh"] == str(DEPLOY / "clickhouse" / "apply-schema.sh")
    servers = {aliases(s)[0] for s in services(compose, "clickhouse-").values()}
    assert apply["environment"]["CLICKHOUSE_HOST"] in servers
    worker = compose["services"]["eams-all"]
    assert worker["depends_on"]["schema-apply"]["condition"] == "service_completed_successfully"


def test_grafana_provisioning_points_at_files_that_exist(compose: dict[str, Any]) -> None:
    import json

    import yaml

    grafana = compose["services"]["grafana"]
    mounted = mounts(grafana)
    provisioning = Path(mounted["/etc/grafana/provisioning"])
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "eams.yaml").read_text())[
        "providers"
    ]
    folder = provider["options"]["path"]
    dashboards = {t: Path(s) for t, s in mounted.items() if t.startswith(folder + "/")}
    exported = sorted((DEPLOY / "grafana").glob("*.json"))
    assert sorted(dashboards.values()) == exported  # every exported dashboard, and only those
    sources = {
        d["uid"]: d
        for f in sorted((provisioning / "datasources").glob("*.yaml"))
        for d in yaml.safe_load(f.read_text())["datasources"]
    }
    for path in exported:  # every data source a panel reads is provisioned
        board = json.loads(path.read_text())
        used = {t["datasource"]["uid"] for p in board["panels"] for t in p["targets"]}
        assert board["uid"] and used and used <= set(sources), (path.name, used)
    source = sources["eams-clickhouse"]
    assert source["type"] == "grafana-clickhouse-datasource"
    prometheus = httpx.URL(sources["eams-prometheus"]["url"])
    assert prometheus.host in compose["services"] and prometheus.port == 9090
    assert grafana["environment"]["CLICKHOUSE_HOST"] in {
        aliases(s)[0] for s in services(compose, "clickhouse-").values()
    }


def test_the_schema_script_is_valid_shell() -> None:
    import subprocess

    script = DEPLOY / "clickhouse" / "apply-schema.sh"
    done = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_prometheus_scrapes_every_eams_process(compose: dict[str, Any]) -> None:
    """Its DNS name is an alias of every EAMS service, at the port their /metrics listens
    on (on every address), and the file it reads is the one in deploy/prometheus."""
    import yaml

    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "eams"]
    (sd,) = job["dns_sd_configs"]
    eams = {n: s for n, s in compose["services"].items() if n.startswith("eams-")}
    assert set(eams) == {"eams-all", "eams-ingest", "eams-commands"}
    for name, service in eams.items():
        assert set(sd["names"]) <= set(aliases(service)), name
        env = service["environment"]
        assert (env["EAMS_METRICS_PORT"], env["EAMS_METRICS_HOST"]) == (str(sd["port"]), "0.0.0.0")
    mounted = mounts(compose["services"]["prometheus"])
    assert (
        Path(mounted["/etc/prometheus/prometheus.yml"]) == DEPLOY / "prometheus" / "prometheus.yml"
    )
