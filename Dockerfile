# syntax=docker/dockerfile:1
# Multi-stage build: a static audit binary on a minimal non-root image.
# Build:  docker build -t mfa-audit --build-arg VERSION=$(git describe --tags --always) .
# Run:    docker run --rm --read-only -v "$PWD/out:/out" -e AUDIT_OUTPUT=/out/mfa-audit.xlsx ... mfa-audit run

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so the dependency layer is cached across source changes.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags="-s -w -X main.version=${VERSION}" \
      -o /out/audit ./cmd/audit \
 && mkdir -p /out/reports

# distroless/static has CA certificates (TLS to the API is verified), tzdata
# and a nonroot user (65532), and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/audit /usr/local/bin/audit
# Reports go to /out by default; mount a volume there (the root file system
# can stay read-only: the job writes only its outputs and temporary files,
# so mount an emptyDir at /tmp as well when running read-only).
COPY --from=build --chown=65532:65532 /out/reports /out
WORKDIR /out
ENV AUDIT_OUTPUT=/out/mfa-audit.xlsx,/out/mfa-audit.html \
    AUDIT_LOG_FORMAT=json \
    AUDIT_PROGRESS=never
USER 65532:65532
ENTRYPOINT ["audit"]
CMD ["run"]
