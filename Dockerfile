# syntax=docker/dockerfile:1
#
# voice-agent container: the one self-contained executable on a distroless glibc base.
#
#   docker build -t voice-agent .                              # builds the binary from source (default)
#   docker build -t voice-agent --target prebuilt .            # packs an existing dist/voice-agent
#                                                              # (run `bun run build` on linux-x64 first)
#   docker run --rm --name va --env-file ./agent.env -v va-data:/data \
#     -e API_TOKEN=change-me-to-a-long-secret \
#     -e SIP_PUBLIC_IP=203.0.113.10 -e RTP_PORT_START=10000 -e RTP_PORT_END=10199 \
#     -p 5060:5060/udp -p 5060:5060/tcp -p 8000:8000/tcp -p 10000-10199:10000-10199/udp \
#     --stop-timeout 45 --read-only --tmpfs /tmp:exec,mode=1777 voice-agent
#
# Notes that matter in production:
# - RTP ports: EXPOSE below documents the default range 10000-20000. Whatever you publish must be the same
#   range as RTP_PORT_START/RTP_PORT_END (2 ports per call). Publishing 10001 UDP ports through Docker's
#   proxy is slow to start; either narrow the range as above or run with --network host.
# - SIP_PUBLIC_IP: inside a container the auto-detected address is the container's own (e.g. 172.17.x.x),
#   which a trunk cannot reach; set SIP_PUBLIC_IP to the host's public address for Contact and SDP c=.
# - Stopping: SIGTERM starts the drain (DRAIN_TIMEOUT_S, default 30 s). Docker kills after 10 s unless
#   --stop-timeout 45 (Kubernetes: terminationGracePeriodSeconds: 45), matching the systemd unit.
# - /tmp must allow exec: the binary extracts libonnxruntime.so.1 there and dlopens it. The base image
#   has a writable /tmp (mode 1777); with --read-only, mount `--tmpfs /tmp:exec` (Docker's tmpfs default
#   is noexec, which makes the VAD fail to load) or point TMPDIR at an exec-capable volume.
# - HTTP API: without API_TOKEN the agent listens on 127.0.0.1 only (anyone reaching the port could
#   place calls), i.e. NOT reachable through -p 8000:8000. Set API_TOKEN (16+ printable characters) to
#   listen on SERVER_HOST (default 0.0.0.0); clients then send `Authorization: Bearer <API_TOKEN>`.
# - Health: the image has no shell or curl. Probe from the orchestrator over HTTP on port 8000:
#   GET /health/live and GET /health/ready need no token (Kubernetes httpGet liveness/readiness; ready
#   is 503 + Retry-After while draining, full or degraded); scrape /metrics with the Authorization header.
# - Offline speech-to-text is NOT in this image: it runs Debian's pocketsphinx_continuous, a separate
#   program (plus its 16 kHz acoustic model, ~30 MB) that distroless does not carry. This image is meant
#   for the cloud providers (DEEPGRAM_API_KEY for STT — without it the agent refuses to start here,
#   "STT_PROVIDER: pocketsphinx … cannot run here"; Gemini or an OpenAI-compatible endpoint for the
#   LLM; Cartesia or the built-in flite for TTS — flite is compiled into the binary as WebAssembly and
#   works here). For fully offline STT, run the binary on Debian with `apt-get install pocketsphinx
#   pocketsphinx-en-us` (scripts/deploy/voice-agent.service) or base a variant on debian:12-slim with
#   those two packages instead of distroless.
# - Verified without a container engine by tests/deploy/chroot.test.ts: the binary runs in a root that
#   holds only itself, glibc, libstdc++ and libgcc_s (what this base image provides), as uid 65532.

# ---------------------------------------------------------------------------------------------------
# Build stage: Debian 12 + Node 20, the platform scripts/bootstrap.sh targets. bootstrap.sh installs the
# pinned Bun from npm and the project's packages (it also installs the pocketsphinx Debian packages,
# which are not used by the build and stay in this throw-away stage).
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json bun.lock bunfig.toml tsconfig.json ./
COPY scripts/ scripts/
RUN bash scripts/bootstrap.sh
COPY models/ models/
COPY src/ src/
RUN node_modules/.bin/bun run build && ./dist/voice-agent --version

# ---------------------------------------------------------------------------------------------------
# Runtime from a prebuilt binary (`--target prebuilt`): same layout, the binary comes from the build
# context's dist/voice-agent instead of the build stage. It must be a linux-x64 build.
FROM gcr.io/distroless/cc-debian12:nonroot AS prebuilt
COPY --chmod=0755 dist/voice-agent /voice-agent
# /data for the call database, owned by nonroot (see the runtime stage).
COPY --from=gcr.io/distroless/cc-debian12:nonroot --chown=65532:65532 /home/nonroot /data
USER nonroot
ENV DATA_DIR=/data
# SIP (UDP), HTTP API, RTP media (UDP; must equal RTP_PORT_START-RTP_PORT_END).
EXPOSE 5060/udp 5060/tcp 8000/tcp 10000-20000/udp
ENTRYPOINT ["/voice-agent"]
CMD ["--mode", "inbound"]

# ---------------------------------------------------------------------------------------------------
# Runtime (default target): distroless "cc" = glibc + libstdc++ + libgcc_s + CA certificates +
# /etc/passwd with nonroot (uid 65532); no shell, no package manager. Only the binary and an empty,
# writable /data are added.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /src/dist/voice-agent /voice-agent
# DATA_DIR (call records, DATA_DIR/calls.db) = /data, an empty directory owned by nonroot: distroless has
# no shell to mkdir/chown, so the base image's own empty /home/nonroot is copied there re-owned. A named
# volume mounted on it (-v va-data:/data) starts with that ownership, so the records survive restarts.
COPY --from=gcr.io/distroless/cc-debian12:nonroot --chown=65532:65532 /home/nonroot /data
USER nonroot
ENV DATA_DIR=/data
# SIP (UDP), HTTP API, RTP media (UDP; must equal RTP_PORT_START-RTP_PORT_END).
EXPOSE 5060/udp 5060/tcp 8000/tcp 10000-20000/udp
ENTRYPOINT ["/voice-agent"]
CMD ["--mode", "inbound"]
