# m2d-server image: build with the Swift toolchain, run on debian:bookworm-slim with only the
# runtime libraries, as a non-root user, with the default model included.
#   docker build -t m2d-serve .
#   docker run -p 8080:8080 m2d-serve
# The binaries use AVX2+FMA when the build machine has them; for an image that runs on any x86-64:
#   docker build --build-arg M2D_PORTABLE=1 -t m2d-serve .
ARG SWIFT_IMAGE=swift:6.3-bookworm

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libopenblas-dev libsndfile1-dev libsoxr-dev libmicrohttpd-dev libdnnl-dev pkg-config python3-flasgger \
 && rm -rf /var/lib/apt/lists/*
ARG M2D_PORTABLE
ENV M2D_PORTABLE=${M2D_PORTABLE}
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product m2d-server \
 && swift build -c release --static-swift-stdlib --product m2d-embed \
 && mkdir -p /out \
 && cp "$(swift build -c release --show-bin-path)/m2d-server" "$(swift build -c release --show-bin-path)/m2d-embed" /out/

FROM debian:bookworm-slim
ARG M2D_BUILD_SHA=unknown
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libopenblas0-pthread libdnnl2 libsndfile1 libsoxr0 libmicrohttpd12 libstdc++6 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /nonexistent --shell /usr/sbin/nologin m2d
COPY --from=build /out/m2d-server /out/m2d-embed /usr/local/bin/
COPY models/m2d-small-debian /models/m2d-small-debian
ENV M2D_MODEL=/models/m2d-small-debian \
    PORT=8080 \
    M2D_BUILD_SHA=${M2D_BUILD_SHA} \
    M2D_DOCKER_LABEL=m2d-serve
USER m2d
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1
ENTRYPOINT ["m2d-server"]
CMD ["--json-logs"]
