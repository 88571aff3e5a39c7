# The canopy image the Helm chart runs: `canopy run --kubernetes`.
#   docker build -t ghcr.io/canopy-dev/canopy:0.1.0 .
# Stage 1 builds the release binary; stage 2 is distroless (glibc, CA certificates,
# no shell, no package manager) running as the unprivileged `nonroot` user (65532).

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY benches benches
RUN mkdir -p src/bin/canopy-bench \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > src/bin/canopy-bench/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin canopy \
    && rm -rf src
COPY src src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin canopy

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/canopy /usr/local/bin/canopy
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/canopy"]
CMD ["run", "--kubernetes"]
