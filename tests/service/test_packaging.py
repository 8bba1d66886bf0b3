"""Docker packaging: the compose file parses (`docker compose config`, offline) and has the production shape."""

import os
import shutil
import subprocess
import time

import pytest
import yaml

from tests.conftest import REPO


def compose_cli() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_passes() -> None:
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)")
    result = subprocess.run([*cli, "-f", str(REPO / "docker-compose.yml"), "config", "-q"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_compose_has_postgres_migrate_api_and_a_gpu_indexer() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["migrate"]["command"] == ["stemjepa", "db", "upgrade"]
    for name in ("api", "indexer"):
        deps = services[name]["depends_on"]
        assert deps["db"]["condition"] == "service_healthy"
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert any(v.startswith("index:") for v in services[name]["volumes"])
    assert services["api"]["command"][:2] == ["stemjepa", "serve"]
    # one job system: the api replicas queue, the GPU worker runs (claiming rows of the shared database)
    assert services["api"]["environment"]["STEMJEPA_RUN_INDEX_JOBS"] == "false"
    assert services["indexer"]["command"][:2] == ["stemjepa", "index-worker"]
    gpu = services["indexer"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    # migrations run only in the one-shot step
    assert all("upgrade" not in services[name]["command"] for name in ("api", "indexer"))


def test_dockerfile_targets_install_with_the_setup_script() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "AS cpu" in text and "AS cuda" in text
    assert text.count("./scripts/setup.sh") == 2


@pytest.mark.slow
def test_setup_skips_what_is_already_installed() -> None:
    """A second `scripts/setup.sh` (what `make demo` runs before every start) reinstalls nothing: no pip
    run while pyproject.toml and the extras are unchanged."""
    venv = REPO / ".venv"
    if not (venv / ".stemjepa-installed").is_file():
        pytest.skip("the project was not installed by scripts/setup.sh here")
    started = time.monotonic()
    done = subprocess.run(["./scripts/setup.sh"], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "VENV": str(venv)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("setup: ready")
    assert time.monotonic() - started < 15
