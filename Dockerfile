# Wirebrief's image: one process per container (README: "Running it in Docker", "Running at scale").
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The project, installed from the checkout as the README installs it, without the test extras.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install .

# An unprivileged user. /data holds the SQLite database; chowned before VOLUME, so a new named volume
# starts owned by the user.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin wirebrief \
    && mkdir -p /data /config \
    && chown wirebrief:wirebrief /data
VOLUME /data
WORKDIR /data
USER wirebrief

# The deployment settings (`wirebrief check-config` shows where each came from; an option on the command
# line wins over these, a variable given to the container replaces them):
# - the config, mounted read-only; it holds no secrets: DISCORD_TOKEN (and WIREBRIEF_DB_PASSWORD, a
#   model's API key) come from the container's environment, never from this file;
# - the SQLite database in the volume, whatever the config's [storage] path says (a [storage] url or
#   WIREBRIEF_DB_URL puts it on PostgreSQL instead);
# - the health endpoint on every address of the container, so that a Kubernetes probe (sent to the pod's
#   address) reaches it too; publish no port for it.
ENV WIREBRIEF_CONFIG=/config/wirebrief.toml \
    WIREBRIEF_DB_PATH=/data/wirebrief.db \
    WIREBRIEF_HEALTH_HOST=0.0.0.0 \
    WIREBRIEF_HEALTH_PORT=8080

# /health answers 200 when healthy and 503 when not; urlopen raises on a 503 or no answer (exit 1).
# No curl in the slim image: Python's urllib does it, on the port the process listens on.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health' % os.environ['WIREBRIEF_HEALTH_PORT'], timeout=8)"]

ENTRYPOINT ["wirebrief"]
CMD ["run"]
