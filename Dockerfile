# syntax=docker/dockerfile:1
# The driftwarden daemon image. Build from the repository root:
#   docker build -t driftwarden:0.1.0 .
# Stage 1 builds driftwarden's wheel (with its Rust extension) and collects the wheels of its
# dependencies at the versions pinned in deploy/local/constraints.txt; stage 2 installs them from
# that folder alone (no index, no compiler) and runs as an unprivileged user.

FROM python:3.11.14-slim-bookworm AS build
# The native JSON reader (monitor/decode/native) is Rust: the toolchain comes from the official
# rust image, the C linker it drives from Debian. Neither reaches the final stage.
COPY --from=rust:1.95.0-slim-bookworm /usr/local/cargo /usr/local/cargo
COPY --from=rust:1.95.0-slim-bookworm /usr/local/rustup /usr/local/rustup
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:$PATH
# gcc is not pinned to a Debian revision: this stage is thrown away, and a pin would break the
# build at the next point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY deploy/local/constraints.txt ./constraints.txt
COPY baselines ./baselines
COPY detectors ./detectors
COPY monitor ./monitor
RUN pip wheel --constraint constraints.txt --wheel-dir /wheels .

# The base image installs Debian's tzdata: /usr/share/zoneinfo is the time-zone database that
# pyarrow reads for windows.timezone (calendar windows), so the image needs nothing more.
FROM python:3.11.14-slim-bookworm
LABEL org.opencontainers.image.title="driftwarden" \
      org.opencontainers.image.description="Streaming drift-monitoring daemon for ML models" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/driftwarden-*.whl \
    && groupadd --system --gid 10001 driftwarden \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin driftwarden \
    && install --directory --owner=10001 --group=10001 /var/lib/driftwarden
WORKDIR /var/lib/driftwarden
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["driftwarden"]
CMD ["run", "--config", "/etc/driftwarden/config/driftwarden.yaml"]
