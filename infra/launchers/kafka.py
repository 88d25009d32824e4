"""The local Apache Kafka broker: one KRaft node (broker and controller) run from Maven jars.

Files under the state folder: ``kafka/server.properties`` and ``kafka/log4j2-*.properties``
(rewritten on every start, so changed ports take effect), ``kafka/data/`` (the log and the
KRaft metadata, formatted once and kept), ``kafka/kafka.log`` and ``kafka.pid``.
The jars themselves live in a shared cache keyed by the pom (see ``jar_dir``), so every state
folder, including the throw-away ones tests use, shares one download.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

from infra.launchers.common import (
    Port,
    Progress,
    ServiceLayout,
    accepts_connections,
    log_tail,
    notify,
    open_log,
    send_signal,
    spawn,
)
from infra.settings import Settings
from schemas.errors import InfraError

POM = Path(__file__).resolve().parent.parent / "kafka" / "pom.xml"
MIN_JAVA = 17  # Kafka 4 brokers need Java 17 or newer
HEAP = "512m"
STOP_GRACE_S = 30.0  # a controlled shutdown of one node takes ~2 s; give a busy one room
_MAVEN_TIMEOUT_S = 600.0
_FORMAT_TIMEOUT_S = 120.0
_INSTALL_HINT = "or run both services in Docker: docker compose -f infra/compose.yaml up -d"


def layout(settings: Settings) -> ServiceLayout:
    home = settings.state_dir.resolve() / "kafka"
    return ServiceLayout(
        name="kafka",
        home=home,
        pid_path=home.parent / "kafka.pid",
        log_path=home / "kafka.log",
        marker=str(home / "server.properties"),
        ports=(
            Port(
                number=settings.kafka_port,
                purpose="Kafka broker listener",
                setting="HUBBUB_KAFKA_BOOTSTRAP",
            ),
            Port(
                number=settings.kafka_controller_port,
                purpose="Kafka KRaft controller listener",
                setting="HUBBUB_KAFKA_CONTROLLER_PORT",
            ),
        ),
        address=f"127.0.0.1:{settings.kafka_port}",
    )


def kafka_version() -> str:
    """The Kafka version the pom pins (the one the launcher runs)."""
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text(encoding="utf-8"))
    if match is None:
        raise InfraError(f"{POM} does not set <kafka.version>; the package is damaged, reinstall")
    return match.group(1).strip()


def jar_dir(jar_cache: Path) -> Path:
    """Where the jars for the packaged pom live: a new pom (any edit) gets a fresh folder."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    return jar_cache / f"kafka-{kafka_version()}-{digest}" / "libs"


def check_prerequisites(jar_cache: Path) -> None:
    """Raise ``InfraError`` saying what to install when Java (or, before the download, Maven)
    is missing or too old."""
    java = shutil.which("java")
    if java is None:
        raise InfraError(
            f"Java {MIN_JAVA}+ is needed to run Kafka {kafka_version()} but 'java' is not on PATH; "
            f"install a JRE (e.g. apt-get install openjdk-17-jre-headless), {_INSTALL_HINT}"
        )
    major = _java_major(java)
    if major is not None and major < MIN_JAVA:
        raise InfraError(
            f"Kafka {kafka_version()} needs Java {MIN_JAVA} or newer, but 'java' is Java {major}; "
            f"install a newer JRE (e.g. openjdk-17-jre-headless), {_INSTALL_HINT}"
        )
    if not jar_dir(jar_cache).is_dir() and shutil.which("mvn") is None:
        raise InfraError(
            f"Maven ('mvn') is needed once to download the Kafka {kafka_version()} jars into "
            f"{jar_dir(jar_cache)}; install it (e.g. apt-get install maven), {_INSTALL_HINT}"
        )


def start(settings: Settings, *, jar_cache: Path, progress: Progress | None = None) -> int:
    """Fetch the jars if needed, format the storage on first use, write the config, launch.

    Returns the broker's pid without waiting for it to answer. Raises ``InfraError`` when the
    download or the format fails (with the tool's output).
    """
    here = layout(settings)
    libs = ensure_jars(jar_cache, progress=progress)
    data = here.home / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = here.home / "server.properties"
    config.write_text(server_properties(settings, data_dir=data), encoding="utf-8")
    if not (data / "meta.properties").exists():
        notify(progress, "kafka: formatting storage (first start of this state folder)")
        _format(here, _java(here, libs, log_level="WARN"), config)
    notify(progress, f"kafka: starting broker on {here.address}")
    broker = [*_java(here, libs, log_level="INFO"), "kafka.Kafka", str(config)]
    return spawn(here, broker, cwd=here.home)


def _java(here: ServiceLayout, libs: Path, *, log_level: str) -> list[str]:
    """The JVM command line up to the main class, logging at ``log_level`` to stdout."""
    log_config = here.home / f"log4j2-{log_level.lower()}.properties"
    log_config.write_text(log4j2_properties(log_level), encoding="utf-8")
    return [
        "java",
        f"-Xmx{HEAP}",
        "-Xms128m",
        "-XX:+ExitOnOutOfMemoryError",  # a dead broker is easier to notice than a wedged one
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log_config}",
        f"-Dkafka.logs.dir={here.home}",
        "-cp",
        f"{libs}{os.sep}*",
    ]


def request_stop(pid: int) -> None:
    """Ask for a controlled shutdown (the broker's SIGTERM hook); the caller waits for the exit."""
    send_signal(pid, signal.SIGTERM)


def probe(settings: Settings, *, timeout_s: float = 2.0) -> bool:
    """Whether a Kafka broker at the configured address answers and is registered (unfenced).

    Any failure counts as "not healthy"; this never raises.
    """
    if not accepts_connections(settings.kafka_host, settings.kafka_port, timeout_s=timeout_s):
        return False
    # Imported here: only the probe needs a client, and the CLI should not pay for it otherwise.
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaConfigurationError

    timeout_ms = int(timeout_s * 1000)
    # kafka-python 2.x bounds the first connection with api_version_auto_timeout_ms; 3.x renamed
    # it bootstrap_timeout_ms and rejects the old name.
    bootstrap_key = (
        "bootstrap_timeout_ms"
        if "bootstrap_timeout_ms" in KafkaAdminClient.DEFAULT_CONFIG
        else "api_version_auto_timeout_ms"
    )
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id="hubbub-infra-probe",
            request_timeout_ms=timeout_ms,
            **{bootstrap_key: timeout_ms},
        )
    except KafkaConfigurationError:
        raise  # our mistake, not the broker's: waiting would only hide it
    except Exception:  # any other failure to bootstrap means "not answering yet"
        return False
    try:
        brokers = admin.describe_cluster().get("brokers") or []
    except Exception:  # a broker that accepts but cannot describe itself is not ready
        return False
    finally:
        admin.close()
    return any(not b.get("is_fenced", False) for b in brokers)


def ensure_jars(jar_cache: Path, *, progress: Progress | None = None) -> Path:
    """The folder of Kafka jars for the packaged pom, downloading them with Maven the first time.

    Concurrent callers are safe: each downloads into its own temporary folder and the first
    rename wins. Raises ``InfraError`` with Maven's output when the download fails.
    """
    libs = jar_dir(jar_cache)
    if libs.is_dir():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError(
            f"Maven ('mvn') is needed once to download the Kafka jars into {libs}; install it "
            f"(e.g. apt-get install maven), {_INSTALL_HINT}"
        )
    notify(progress, f"kafka: downloading Kafka {kafka_version()} jars with Maven (once, ~45 MB)")
    libs.parent.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=libs.parent.name + ".", dir=libs.parent.parent))
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging / 'libs'}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            timeout=_MAVEN_TIMEOUT_S,
            check=False,
        )
        jars = list((staging / "libs").glob("*.jar"))
        if result.returncode != 0 or not jars:
            output = (result.stdout + result.stderr).strip().splitlines()[-20:]
            raise InfraError(
                f"downloading the Kafka jars with Maven failed (exit {result.returncode}); it "
                "needs access to Maven Central the first time. Maven said:\n"
                + "\n".join("    " + line for line in output)
            )
        try:
            staging.rename(libs.parent)
        except OSError:
            if not libs.is_dir():  # not a lost race with another download: a real failure
                raise
    except subprocess.TimeoutExpired as exc:
        raise InfraError(
            f"downloading the Kafka jars with Maven took over {_MAVEN_TIMEOUT_S:g} s; check the "
            "network and try again"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return libs


def server_properties(settings: Settings, *, data_dir: Path) -> str:
    """The broker config: one node that is both broker and controller, loopback only."""
    port, cport = settings.kafka_port, settings.kafka_controller_port
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{cport}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        # Topics are created on purpose, with the partition count the keys are spread over;
        # a typo must fail loudly rather than create a one-partition topic.
        "auto.create.topics.enable": "false",
        "num.partitions": str(settings.partitions),
        # The log is the system of record: keep every event unless a topic says otherwise.
        "log.retention.ms": "-1",
        "log.retention.bytes": "-1",
        # One node: internal topics cannot have more than one replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Fewer internal partitions than the default 50: the first group join is much faster.
        "offsets.topic.num.partitions": "6",
        "transaction.state.log.num.partitions": "6",
        "group.initial.rebalance.delay.ms": "0",
    }
    header = "# Written by 'hubbub infra up' on every start; edits here are overwritten.\n"
    return header + "".join(f"{key}={value}\n" for key, value in lines.items())


def log4j2_properties(level: str) -> str:
    """Log4j 2 config: everything at ``level`` to stdout, which the launcher sends to kafka.log."""
    return f"""\
# Written by 'hubbub infra up'. Output goes to kafka.log in this folder.
status = warn
# Keep logging through the broker's own shutdown hook (log4j's hook would stop it first).
shutdownHook = disable
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def new_cluster_id() -> str:
    """A KRaft cluster id in Kafka's own format: a random UUID in URL-safe base64, unpadded.

    Made here rather than by ``StorageTool random-uuid`` to save a JVM start; like Kafka, ids
    starting with '-' are avoided (they read as command-line flags).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


def _format(here: ServiceLayout, java: list[str], config: Path) -> None:
    argv = [*java, "kafka.tools.StorageTool", "format"]
    argv += ["-t", new_cluster_id(), "-c", str(config)]
    with open_log(here, action="formatting its storage") as log:
        try:
            result = subprocess.run(  # noqa: S603 - argv built above
                argv,
                cwd=here.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=_FORMAT_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise InfraError(
                f"formatting the Kafka storage in {here.home / 'data'} took over "
                f"{_FORMAT_TIMEOUT_S:g} s; see {here.log_path}"
            ) from exc
    if result.returncode != 0:
        raise InfraError(
            f"formatting the Kafka storage in {here.home / 'data'} failed (exit "
            f"{result.returncode}); if that folder holds old data, remove it to start afresh. "
            f"Last log lines:\n{log_tail(here.log_path)}"
        )


def _java_major(java: str) -> int | None:
    try:
        result = subprocess.run(  # noqa: S603 - the java found on PATH
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_..."
    return int(match.group(2) or 0) if major == 1 else major
