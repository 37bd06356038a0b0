# syntax=docker/dockerfile:1
# pathkv: multi-stage build; the final image has no compilers and runs as a non-root user.
# PYTHON_IMAGE: the pinned official image by default; any Debian-like image with python3 and
# its venv module works (scripts/container-test builds one from Debian packages).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# PIP_CERT: a CA bundle for pip, when the build reaches the package index through a proxy
# with a CA of its own (mount the bundle into the build); empty: pip's own.
ARG PIP_CERT=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python3 -m venv /opt/pathkv
COPY pyproject.toml README.md ./
COPY src ./src
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi \
    && /opt/pathkv/bin/pip install ".[server,operator]"

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 pathkv \
    && useradd --system --uid 10001 --gid pathkv --no-create-home --shell /usr/sbin/nologin pathkv \
    && mkdir /data \
    && chown pathkv:pathkv /data
COPY --from=build /opt/pathkv /opt/pathkv
ENV PATH=/opt/pathkv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATHKV_HOST=0.0.0.0 \
    PATHKV_PORT=8080 \
    PATHKV_STORE=sqlite:////data/pathkv.db
USER 10001:10001
WORKDIR /data
EXPOSE 8080
# The port the service listens on (PATHKV_PORT), not a fixed one.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/-/healthz' % os.environ.get('PATHKV_PORT', '8080'), timeout=2)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["pathkv"]
CMD ["serve"]
