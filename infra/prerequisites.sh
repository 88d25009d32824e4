#!/usr/bin/env bash
# The system tools the local services need: a JDK 17+ (Kafka) and Maven (fetches Kafka's jars).
# Installs them with apt-get when missing and allowed (root on Debian/Ubuntu); otherwise says what
# to install. Python's own packages come from pyproject.toml.
set -u
need=()
command -v java >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" && exit 0
  echo "apt-get could not install ${need[*]}" >&2
  exit 1
fi
echo "missing: ${need[*]}. Install a JDK 17+ and Maven (or use infra/compose.yaml with Docker)." >&2
exit 1
