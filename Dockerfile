# syntax=docker/dockerfile:1
# ComplianceShield: one image for the API, the migration and every worker.
#
#   docker build -t compliance-shield-api:$(compliance-shield version) .
#   docker run --rm -p 8000:8000 --read-only --tmpfs /tmp \
#       -e DATABASE_URL=postgresql://… -e JWT_SECRET=… compliance-shield-api:0.1.0
#   docker run --rm … compliance-shield-api:0.1.0 worker relay      # any `compliance-shield` command
#
# The runtime stage writes nothing outside /tmp and the DATA_DIR volume, so the container runs
# with a read-only root filesystem (Kubernetes `readOnlyRootFilesystem: true`, compose `read_only`).

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---- build: wheels of the package and of every dependency ----------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --wheel-dir /wheels .

# ---- runtime: a virtual environment installed from those wheels only ------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG APP_UID=10001
LABEL org.opencontainers.image.title="compliance-shield-api" \
      org.opencontainers.image.description="Real-time compliance gate for transfers of tokenized securities"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    TMPDIR=/tmp \
    XDG_RUNTIME_DIR=/tmp \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/var/lib/compliance-shield
COPY --from=build /wheels /wheels
RUN python -m venv /opt/venv && /opt/venv/bin/python -m pip install --no-index --find-links=/wheels compliance-shield && /opt/venv/bin/python -m compileall -q /opt/venv
RUN rm -rf /wheels \
    && groupadd --system --gid ${APP_UID} compliance \
    && useradd --system --uid ${APP_UID} --gid compliance --no-create-home --shell /usr/sbin/nologin compliance \
    && mkdir -p /var/lib/compliance-shield \
    && chown compliance:compliance /var/lib/compliance-shield
# the embedded PostgreSQL's folder, should DATABASE_URL be unset; production points at RDS
VOLUME ["/var/lib/compliance-shield"]
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=2)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["compliance-shield"]
CMD ["serve"]
