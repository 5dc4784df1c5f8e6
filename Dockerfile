# enquiry-relay: release build, then a slim runtime image that runs as a
# non-root user. Build: docker build -t enquiry-relay .
FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY static static
COPY templates templates
# Cargo.toml names the benchmark target; keep every target it names in the context.
COPY benches benches
COPY enquiry-relay.example.toml ./
RUN cargo build --release --locked \
 && cp target/release/enquiry-relay /usr/local/bin/enquiry-relay

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/enquiry-relay --create-home relay
COPY --from=builder /usr/local/bin/enquiry-relay /usr/local/bin/enquiry-relay
COPY enquiry-relay.example.toml /usr/share/doc/enquiry-relay/enquiry-relay.example.toml
USER relay
WORKDIR /var/lib/enquiry-relay
# Listen on every interface inside the container; a proxy in front publishes it.
ENV ENQUIRY_RELAY_SERVER__LISTEN=0.0.0.0:8080
EXPOSE 8080
# The binary checks itself (GET /readyz on server.listen): no curl in the image.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["enquiry-relay", "healthcheck"]
ENTRYPOINT ["enquiry-relay"]
CMD ["serve"]
