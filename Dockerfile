# syntax=docker/dockerfile:1
# vsxi-xivo-exporter container image.
#   docker build -t vsxi-xivo-exporter .                      (base image: --build-arg PYTHON_IMAGE=...)
#   docker run -p 10188:10188 -v /etc/vsxi-xivo-exporter:/etc/vsxi-xivo-exporter:ro vsxi-xivo-exporter
# The configuration is read from /etc/vsxi-xivo-exporter/config.yml; mount passwords as files next to it
# (password_file: /etc/vsxi-xivo-exporter/<name>.pass) or as Docker/Kubernetes secrets, never in the image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# --version and vsxi_xivo_exporter_build_info show these (exporter/buildinfo.py):
#   --build-arg REVISION=$(git rev-parse --short=12 HEAD) --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD)
#   --build-arg BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ARG REVISION="" BRANCH="" BUILD_DATE=""
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md LICENSE CHANGELOG.md config.example.yml ./
COPY exporter ./exporter
COPY grafana ./grafana
COPY rules ./rules
COPY examples ./examples
RUN printf '{"revision": "%s", "branch": "%s", "build_date": "%s"}\n' "$REVISION" "$BRANCH" "$BUILD_DATE" \
      > exporter/_build.json \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="vsxi-xivo-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Sansay VSXi SBCs and XiVO/Wazo PBXs"
RUN useradd --system --uid 10188 --no-create-home --shell /usr/sbin/nologin exporter
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10188:10188
EXPOSE 10188
# With --web.config.file, /-/healthy sits behind the same TLS and basic auth as the rest (as in
# exporter-toolkit): adapt this check, or rely on the orchestrator's probes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10188/-/healthy', timeout=4)"]
ENTRYPOINT ["vsxi-xivo-exporter"]
CMD ["--config.file=/etc/vsxi-xivo-exporter/config.yml"]
